"""`heph workflows list | show NAME | check PATH`."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.panel import Panel
from rich.table import Table

from phases import Phase, Workflow, WorkflowLoadError, WorkflowRegistry, load_workflows

workflows_app = typer.Typer(
    name="workflows", help="List, show and check workflows.", no_args_is_help=True
)
console = Console()
errors = Console(stderr=True, soft_wrap=True)

Paths = Annotated[list[Path] | None, typer.Option("--path", help="Extra workflow file or folder")]


def _registry(paths: list[Path] | None) -> WorkflowRegistry:
    try:
        return WorkflowRegistry.with_builtins(paths or [])
    except WorkflowLoadError as exc:
        errors.print(f"[red]error:[/] {exc}")
        raise typer.Exit(1) from None


@workflows_app.command("list")
def list_cmd(path: Paths = None) -> None:
    """List the workflows: built-ins plus any --path files or folders."""
    table = Table(title="Workflows")
    for column in ("name", "phases", "description"):
        table.add_column(column)
    for workflow in _registry(path).all():
        table.add_row(
            workflow.name, " → ".join(p.name for p in workflow.phases), workflow.description
        )
    console.print(table)


@workflows_app.command("show")
def show_cmd(name: str, path: Paths = None) -> None:
    """Show every phase of one workflow."""
    registry = _registry(path)
    if name not in registry:
        errors.print(
            f"[red]error:[/] no workflow {name!r}; available: {', '.join(registry.names())}"
        )
        raise typer.Exit(2)
    workflow = registry.get(name)
    console.print(f"[bold]{workflow.name}[/]: {workflow.description}")
    for phase in workflow.phases:
        console.print(Panel(_phase_text(phase), title=f"phase {phase.id}: {phase.name}"))
    console.print(_config_text(workflow))


@workflows_app.command("check")
def check_cmd(path: Path) -> None:
    """Validate a workflow file or folder; errors name the file and the field."""
    try:
        found = load_workflows(path)
    except WorkflowLoadError as exc:
        errors.print(str(exc))
        raise typer.Exit(1) from None
    console.print(f"ok: {len(found)} workflows ({', '.join(w.name for w in found)})")


def _phase_text(phase: Phase) -> str:
    lines = [phase.description.strip()]
    if phase.done_definitions:
        lines += ["", "[bold]Done when[/]", *[f"• {d}" for d in phase.done_definitions]]
    if phase.validation.enabled:
        lines += ["", "[bold]Validation[/]", *[f"• {c}" for c in phase.validation.criteria]]
    if phase.agent.cli or phase.agent.model:
        lines += ["", f"agent: {phase.agent.cli or 'default'} {phase.agent.model or ''}"]
    return "\n".join(lines)


def _config_text(workflow: Workflow) -> str:
    config = workflow.config
    params = ", ".join(p.name for p in config.launch_parameters) or "none"
    return (
        f"max agents {config.max_concurrent_agents} · result: {config.has_result}"
        f" · tickets: {config.enable_tickets} · launch parameters: {params}"
    )
