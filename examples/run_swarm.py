"""Run a Hephaestus swarm from a Python script, as the seed article's runner does.

Define the phases and the workflow in Python, start the whole swarm in this process
(the MCP server, the launcher that runs one agent per task in tmux, the Guardian),
queue the first task, wait for the run to end, and shut down gracefully:

    .venv/bin/python examples/run_swarm.py /path/to/your/repo "the CLI crashes on empty input"

Settings come from the usual places (HEPH_* environment, the project's hephaestus.toml),
so `HEPH_PORT=8123` or `HEPH_AGENT_CLI=codex` work here as they do for `heph up`.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from heph_mcp.commands.swarm import LocalSwarm
from heph_mcp.settings import load_settings
from phases import FirstTask, Phase, Workflow, WorkflowConfig

PHASES = [
    Phase(
        id=1,
        name="analysis",
        description="Find the cause of the problem in the goal; do not change code.",
        done_definitions=[
            "The cause is named with file and line",
            "A phase-2 task describes the change to make",
        ],
        next_steps=["Create a phase-2 task for the fix, naming the files"],
        additional_notes="You may create tasks in ANY phase. Never edit outside your worktree.",
    ),
    Phase(
        id=2,
        name="implementation",
        description="Make the change the analysis describes, with a test, and commit it.",
        done_definitions=["The change and its test are committed", "A phase-3 task exists"],
        next_steps=["Create a phase-3 task to check the change, naming the commit"],
    ),
    Phase(
        id=3,
        name="validation",
        description="Check the change on the run's branch and submit the run's result.",
        done_definitions=["The tests pass", "The result is submitted with submit_result"],
    ),
]

QUICK_FIX = Workflow(
    name="quick_fix",
    description="Analyse, fix and check one problem; the run ends with a validated result.",
    phases=PHASES,
    config=WorkflowConfig(
        has_result=True,
        result_criteria=["The problem is fixed and the tests pass on the run's branch"],
        on_result_found="stop_all",
        max_concurrent_agents=2,
    ),
    first_task=FirstTask(title="Analyse: {goal}", description="{goal}"),
)


def main(project: Path, goal: str, timeout: float) -> int:
    settings = load_settings(project=project)
    with LocalSwarm(settings, workflows=[QUICK_FIX]) as swarm:
        run = swarm.start_workflow("quick_fix", goal)  # the run and its first phase-1 task
        print(f"run {run} started; board and status: {settings.url.removesuffix('/mcp')}/")
        status = swarm.wait(run, timeout=timeout)
        print(f"run {run} {status['run']['status']}")
        for result in status["results"]:
            print(f"result {result['id']} [{result['status']}]:\n{result['markdown']}")
        left = swarm.shutdown(graceful=True)
    print("still running: " + ", ".join(left) if left else "all agents stopped")
    return 0 if status["run"]["status"] == "completed" else 1


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("project", type=Path, help="a git repository with at least one commit")
    parser.add_argument("goal", help="what the run should achieve")
    parser.add_argument("--timeout", type=float, default=3600.0, help="seconds to wait")
    args = parser.parse_args()
    sys.exit(main(args.project, args.goal, args.timeout))
