"""Load workflows from YAML files, folders, dicts, and the built-in set.

Every error names the file and the field path as it appears in the YAML
(`bug_fix.yaml: phases.1.done_definitions: Input should be a valid list`),
because the person fixing it is looking at that file, not at the model.
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from phases.models import Workflow

YAML_SUFFIXES = (".yaml", ".yml")
Loc = tuple[str | int, ...]


class WorkflowLoadError(ValueError):
    """A workflow file or definition that cannot be used, with where and why."""


def workflow_from_dict(data: Any, source: str = "<python>") -> Workflow:
    """Validate one workflow definition; `source` names it in errors."""
    return _validate(data, source, ())


def load_workflow_text(text: str, source: str) -> list[Workflow]:
    """One workflow mapping, a list of them, or `workflows: [...]`."""
    items = _workflow_items(_parse_yaml(text, source), source)
    workflows = [_validate(item, source, loc) for loc, item in items]
    _refuse_duplicates(workflows, source)
    return workflows


def load_workflow_file(path: Path) -> list[Workflow]:
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) else "not UTF-8 text"
        raise WorkflowLoadError(f"{path}: cannot read: {reason}") from None
    return load_workflow_text(text, str(path))


def load_workflow_dir(path: Path) -> list[Workflow]:
    """Every YAML file directly in `path`, in name order; a name defined twice is an error."""
    found: dict[str, tuple[Workflow, Path]] = {}
    files = sorted(p for p in path.iterdir() if p.suffix in YAML_SUFFIXES and p.is_file())
    for file in files:
        for workflow in load_workflow_file(file):
            if workflow.name in found:
                other = found[workflow.name][1]
                raise WorkflowLoadError(
                    f"{file}: workflow {workflow.name!r} is also defined in {other}"
                )
            found[workflow.name] = (workflow, file)
    return [workflow for workflow, _ in found.values()]


def load_workflows(path: Path) -> list[Workflow]:
    """A YAML file or a folder of them."""
    if path.is_dir():
        return load_workflow_dir(path)
    if path.is_file():
        return load_workflow_file(path)
    raise WorkflowLoadError(f"{path}: no such file or folder")


def builtin_workflows() -> list[Workflow]:
    """The workflows shipped in `phases/builtin/`, read as package data."""
    folder = resources.files("phases") / "builtin"
    workflows: list[Workflow] = []
    for entry in sorted(folder.iterdir(), key=lambda e: e.name):
        if entry.name.endswith(YAML_SUFFIXES):
            workflows += load_workflow_text(
                entry.read_text(encoding="utf-8"), f"builtin/{entry.name}"
            )
    return workflows


def _parse_yaml(text: str, source: str) -> Any:
    try:
        return yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None) or getattr(exc, "context_mark", None)
        where = f"line {mark.line + 1}, column {mark.column + 1}: " if mark else ""
        problem = getattr(exc, "problem", None) or str(exc)
        raise WorkflowLoadError(f"{source}: {where}invalid YAML: {problem}") from None


def _workflow_items(data: Any, source: str) -> list[tuple[Loc, Any]]:
    """The definitions in a parsed file, each with the field path that locates it."""
    if data is None:
        raise WorkflowLoadError(f"{source}: the file holds no workflow")
    if isinstance(data, dict) and "workflows" in data:
        extra = sorted(str(k) for k in data if k != "workflows")
        if extra:
            raise WorkflowLoadError(
                f"{source}: unexpected keys next to 'workflows': {', '.join(extra)}"
            )
        if not isinstance(data["workflows"], list):
            raise WorkflowLoadError(f"{source}: workflows: must be a list of workflows")
        return [(("workflows", i), item) for i, item in enumerate(data["workflows"])]
    if isinstance(data, list):
        return [((i,), item) for i, item in enumerate(data)]
    return [((), data)]


def _validate(data: Any, source: str, loc: Loc) -> Workflow:
    if not isinstance(data, dict):
        raise WorkflowLoadError(
            f"{_where(source, loc)}a workflow must be a mapping, got {type(data).__name__}"
        )
    try:
        return Workflow.model_validate(data)
    except ValidationError as exc:
        lines = [f"{_where(source, loc + e['loc'])}{e['msg']}" for e in exc.errors()]
        raise WorkflowLoadError("\n".join(lines)) from None


def _where(source: str, loc: Loc) -> str:
    return f"{source}: {'.'.join(str(part) for part in loc)}: " if loc else f"{source}: "


def _refuse_duplicates(workflows: list[Workflow], source: str) -> None:
    names = [w.name for w in workflows]
    repeated = sorted({n for n in names if names.count(n) > 1})
    if repeated:
        raise WorkflowLoadError(f"{source}: workflow names defined twice: {', '.join(repeated)}")
