"""`heph tell | cancel-task | retry | priority | stop-agent | pause | resume | budget`: the
operator's controls from a terminal, each one call of the user tool of the same job."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.markup import escape

from heph_mcp.client import HephCallError, HephClient
from heph_mcp.commands.options import Project
from heph_mcp.settings import Settings, load_settings

console = Console(highlight=False)
errors = Console(stderr=True, soft_wrap=True)
Reason = Annotated[str, typer.Option(help="Why: kept in the event history")]


def call(
    project: Path | None, tool: str, say: Callable[[dict[str, Any]], str], **args: Any
) -> None:
    """Call one user tool on the project's running server and print what happened."""
    settings = load_settings(project)
    with server_errors(settings):
        answer = asyncio.run(_call(settings, tool, args))
    console.print(escape(say(answer)))


@contextlib.contextmanager
def server_errors(settings: Settings) -> Iterator[None]:
    """The end of a command that talks to the server: a refusal is printed as the server
    worded it, anything else as an unreachable server with how to start it; both exit 1."""
    try:
        yield
    except HephCallError as exc:
        errors.print(f"[red]error:[/] {escape(str(exc))}")
        raise typer.Exit(1) from None
    except Exception as exc:  # noqa: BLE001 - top-level handler: name the cause and the fix
        errors.print(f"[red]error:[/] cannot reach the server at {settings.url} ({exc}); "
                     "start it with `heph up` in the project, or pass --project")  # fmt: skip
        raise typer.Exit(1) from None


async def _call(settings: Settings, tool: str, args: dict[str, Any]) -> dict[str, Any]:
    async with HephClient.for_project(settings) as client:
        return await client.call(tool, **args)


def _task(answer: dict[str, Any]) -> str:
    return f"task {answer['id']} is {answer['status']} ({answer['priority']}): {answer['title']}"


def register(app: typer.Typer) -> None:
    @app.command("tell")
    def tell_cmd(
        text: Annotated[str, typer.Argument(help="What to tell it (it arrives as guidance)")],
        agent: Annotated[str | None, typer.Option(help="The agent id")] = None,
        task: Annotated[str | None, typer.Option(help="Or the task id whose agent to tell")] = None,
        project: Project = None,
    ) -> None:
        """Tell one running agent something; its model reads it as guidance from you."""
        call(project, "message_agent", lambda a: f"queued for agent {a['agent_id']} "
             f"(task {a['task_id']})", text=text, agent_id=agent, task_id=task)  # fmt: skip

    @app.command("cancel-task")
    def cancel_cmd(task: str, reason: Reason, project: Project = None) -> None:
        """Cancel one task (not its run); its agent is stopped."""
        call(project, "cancel_one_task", _task, task_id=task, reason=reason)

    @app.command("retry")
    def retry_cmd(
        task: str, reason: Reason = "retried by the user", project: Project = None
    ) -> None:
        """Queue a failed or cancelled task again, with a fresh set of attempts."""
        call(project, "retry_task", _task, task_id=task, reason=reason)

    @app.command("priority")
    def priority_cmd(task: str, priority: str, project: Project = None) -> None:
        """Set an open task's priority: low, medium, high or critical."""
        call(project, "set_task_priority", _task, task_id=task, priority=priority)

    @app.command("stop-agent")
    def stop_cmd(
        agent: str,
        reason: Reason,
        fail: Annotated[bool, typer.Option(help="Fail its task instead of requeueing it")] = False,
        project: Project = None,
    ) -> None:
        """Stop one agent; its task goes back to the queue (or fails, with --fail)."""
        call(project, "stop_agent", lambda a: f"stopped {a['agent_id']}; " + _task(a["task"]),
             agent_id=agent, then="fail" if fail else "requeue", reason=reason)  # fmt: skip

    @app.command("pause")
    def pause_cmd(run: str, project: Project = None) -> None:
        """Pause a run: nothing new launches; running agents carry on."""
        call(project, "pause_run", lambda a: f"run {a['run_id']} paused", run=run)

    @app.command("resume")
    def resume_cmd(run: str, project: Project = None) -> None:
        """Resume a paused run."""
        call(project, "resume_run", lambda a: f"run {a['run_id']} resumed", run=run)

    @app.command("budget")
    def budget_cmd(
        run: str,
        tokens: Annotated[int | None, typer.Option(help="Token cap (0 lifts it)", min=0)] = None,
        usd: Annotated[float | None, typer.Option(help="Dollar cap (0 lifts it)", min=0)] = None,
        project: Project = None,
    ) -> None:
        """Change a run's budget; a run raised back under it launches again."""
        call(project, "set_run_budget", _budget, run=run, budget_tokens=tokens, budget_usd=usd)


def _budget(answer: dict[str, Any]) -> str:
    used = answer.get("budget_used")
    share = f"{used:.0%} used" if used is not None else "no cap"
    return f"run {answer['run_id']} budget: {share} ({answer['budget_state']})"
