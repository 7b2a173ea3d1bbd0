"""The built-in crackme_solving workflow, end to end through the real launcher: a tiny crackme
compiled here with the system compiler, scripted agents (the test double for the model)
walking reconnaissance, analysis, solving and verification, and a result that is validated
only because the real binary accepts the keygen's serials.

The agents really run file, strings, objdump and the binary in their sandboxes; the result
validator runs the keygen against the binary on the run's branch, and the run completes by
itself (stop_all). The test then checks the keygen on names no agent tried.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from swarmkit import Swarm, git, running_swarm, scripted, swarm_settings

from heph_mcp.memory.embedder import LocalEmbedder

SOURCE = Path(__file__).resolve().parents[1] / "data" / "crackme" / "crackme.c"
KEYGEN = """\
import sys

# The serial check read from crackme's disassembly: h = 0x1337, then for each byte of the
# name h = (h * 31 + byte) ^ 0xA5 (32-bit); the serial is the low 24 bits, in hex.
h = 0x1337
for byte in sys.argv[1].encode():
    h = ((h * 31 + byte) ^ 0xA5) & 0xFFFFFFFF
print(format(h & 0xFFFFFF, "x"))
"""
ACCEPTS = "./crackme {name} $(python3 -B keygen.py {name})"
CHECK = " && ".join(ACCEPTS.format(name=n) for n in ("alice", "bob", "carol")) + (
    " && ! ./crackme alice 0"  # a wrong serial is still refused
)
HYPOTHESIS = "serial of NAME: h=0x1337; h=(h*31+byte)^0xA5 per byte; serial = hex(h & 0xffffff)"


def compile_crackme(folder: Path) -> Path:
    """The target, built from its C source with the system compiler, as a user's binary."""
    compiler = shutil.which("cc") or shutil.which("gcc")
    assert compiler, "no C compiler: install gcc (bash .ci/setup --dev does)"
    binary = folder / "crackme"
    built = subprocess.run(
        [compiler, "-O1", "-o", str(binary), str(SOURCE)], capture_output=True, text=True
    )
    assert built.returncode == 0, built.stderr
    return binary


def plan() -> str:
    verification = scripted(
        "Check the keygen on the real binary, then submit the result.",
        {"wait_parent_merged": True},
        {"run": ["sh", "-c", CHECK]},
        {"submit_result": scripted(
            "Keygen: `python3 keygen.py NAME` prints the serial; `./crackme NAME SERIAL`"
            " answers Access granted.", {"review_command": ["sh", "-c", CHECK]}),
         "evidence": [f"$ {CHECK}", "Access granted (x3); a wrong serial: Wrong serial"]},
        {"done": "the binary accepts the keygen's serials; result submitted"},
    )  # fmt: skip
    solving = scripted(
        "Write a keygen for the algorithm in the analysis.",
        {"write": "keygen.py", "text": KEYGEN},
        {"commit": "keygen for crackme's serial check"},
        {"run": ["sh", "-c", ACCEPTS.format(name="alice")]},
        {"create_task": {"phase": 4, "title": "Verify the keygen on the binary",
                         "description": verification}},
        {"done": "keygen.py committed; ./crackme accepted alice's serial"},
    )  # fmt: skip
    analysis = scripted(
        "Read the serial check in main.",
        {"run": ["objdump", "-d", "--no-show-raw-insn", "crackme"]},
        {"call": "save_memory", "args": {"content": HYPOTHESIS, "type": "decision"}},
        {"create_task": {"phase": 3, "title": "Write a keygen", "description": solving}},
        {"done": HYPOTHESIS},
    )  # fmt: skip
    return scripted(
        "Crack the serial check",
        {"run": ["file", "crackme"]},
        {"run": ["strings", "crackme"]},
        {"run": ["./crackme", "alice", "0"]},
        {"call": "save_memory", "args": {"type": "discovery", "content":
            "crackme takes NAME SERIAL as arguments; answers Access granted or Wrong serial"}},
        {"create_task": {"phase": 2, "title": "Read the serial check",
                         "description": analysis}},
        {"done": "ELF executable; input is NAME SERIAL; analysis task created"},
    )  # fmt: skip


@pytest.fixture
async def swarm(project: Path, embedder: LocalEmbedder) -> AsyncIterator[Swarm]:
    compile_crackme(project)
    git(project, "add", "crackme")
    git(project, "commit", "-q", "-m", "the binary to crack")
    async with running_swarm(swarm_settings(project), embedder) as running:
        yield running


async def test_a_crackme_run_walks_its_phases_to_a_result_the_real_binary_accepts(swarm):
    await swarm.start_launcher()
    started = await swarm.user.call(
        "start_workflow", workflow="crackme_solving", goal=plan(), params={"binary": "crackme"}
    )
    run = started["run_id"]
    status = await swarm.wait(run, lambda s: s["run"]["status"] == "completed", timeout=180)
    await swarm.wait_until(lambda: not swarm.tmux.panes(), timeout=30)

    phases = {p["name"]: [(t["title"], t["status"]) for t in p["tasks"]] for p in status["phases"]}
    assert phases == {
        "reconnaissance": [("Reconnaissance: crackme", "done")],
        "analysis": [("Read the serial check", "done")],
        "solving": [("Write a keygen", "done")],
        "verification": [("Verify the keygen on the binary", "done"),
                         ("Validate the run's result", "done")],
    }  # fmt: skip
    [result] = status["results"]
    assert result["status"] == "validated" and result["feedback"].endswith("exited 0")
    assert "Access granted" in _review_evidence(swarm, run)
    memories = await swarm.user.call("find_memories", query="serial check algorithm", run=run)
    assert {h["memory"]["type"] for h in memories["hits"]} >= {"discovery", "decision"}
    # The keygen on the run's branch, on names no agent tried, against the real binary.
    keygen = swarm.git("show", f"heph/{run}:keygen.py") + "\n"
    for name in ("dave", "a-much-longer-name"):
        assert _crackme(swarm, name, _serial(keygen, name)).stdout.strip() == "Access granted"
    assert _crackme(swarm, "dave", "1234").stdout.strip() == "Wrong serial"


def _serial(keygen: str, name: str) -> str:
    done = subprocess.run(["python3", "-c", keygen, name], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    return done.stdout.strip()


def _crackme(swarm: Swarm, name: str, serial: str) -> subprocess.CompletedProcess[str]:
    binary = swarm.settings.project / "crackme"
    return subprocess.run([str(binary), name, serial], capture_output=True, text=True)


def _review_evidence(swarm: Swarm, run: str) -> str:
    """The evidence the result's validator gave (the last review of the run)."""
    with swarm.db() as db:
        rows = db.execute(
            "SELECT detail FROM events WHERE run_id = ? AND kind = 'review_given' ORDER BY id",
            (run,),
        ).fetchall()
    evidence: list[Any] = json.loads(rows[-1]["detail"])["evidence"]
    return "\n".join(evidence)
