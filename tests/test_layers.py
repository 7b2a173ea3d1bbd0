"""The server's modules never import the launcher or the Guardian.

Only the command layer (`heph_mcp.commands`) sits above all three; anything
else in `heph_mcp` reaching into `launcher` or `guardian` would make the
server depend on the processes that are its clients.
"""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CLIENT_PACKAGES = ("launcher", "guardian")


def imported_packages(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(), filename=str(path))
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module.split(".")[0])
    return names


def server_modules() -> list[Path]:
    commands = ROOT / "heph_mcp" / "commands"
    return [p for p in (ROOT / "heph_mcp").rglob("*.py") if commands not in p.parents]


def test_no_server_module_imports_the_launcher_or_the_guardian() -> None:
    offenders = {
        str(path.relative_to(ROOT)): sorted(imported_packages(path) & set(CLIENT_PACKAGES))
        for path in server_modules()
    }
    assert {k: v for k, v in offenders.items() if v} == {}


def test_the_command_layer_is_where_they_meet() -> None:
    commands = ROOT / "heph_mcp" / "commands"
    used = set().union(*(imported_packages(p) for p in commands.glob("*.py")))
    assert set(CLIENT_PACKAGES) <= used
