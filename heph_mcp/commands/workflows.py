"""`heph workflows list | show NAME | check PATH`.

Thin on purpose: loading and validation live in `phases`, so the CLI, the
server and Python callers report the same errors for the same file.
Workflow text is user data, so it is escaped before rich renders it.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, NoReturn

import typer
from rich.console import Console
from rich.markup import escape
from rich.panel import Panel
from rich.table import Table

from phases import (
    LaunchParameter,
    Phase,
    Verify,
    Workflow,
    WorkflowLoadError,
    WorkflowRegistry,
    load_workflows,
)

workflows_app = typer.Typer(
    name="workflows",
    help="List, show and check workflows: built-ins plus your own YAML files.",
    no_args_is_help=True,
)
console = Console()
errors = Console(stderr=True, soft_wrap=True, highlight=False)

Paths = Annotated[
    list[Path] | None,
    typer.Option("--path", help="Extra workflow file or folder (repeatable); overrides built-ins"),
]


@workflows_app.command("list")
def list_cmd(path: Paths = None) -> None:
    """List the workflows: built-ins plus any --path files or folders."""
    table = Table(title="Workflows")
    for column in ("name", "phases", "description"):
        table.add_column(column)
    for workflow in _registry(path).all():
        phases = " → ".join(p.name for p in workflow.phases)
        table.add_row(escape(workflow.name), escape(phases), escape(workflow.description))
    console.print(table)


@workflows_app.command("show")
def show_cmd(name: str, path: Paths = None) -> None:
    """Show every phase of one workflow: instructions, done definitions, validation, agent."""
    registry = _registry(path)
    try:
        workflow = registry.get(name)
    except KeyError as exc:
        _fail(exc.args[0], code=2)
    console.print(f"[bold]{escape(workflow.name)}[/]: {escape(workflow.description)}")
    for phase in workflow.phases:
        title = f"phase {phase.id}: {escape(phase.name)}"
        console.print(Panel(_phase_text(phase), title=title, title_align="left"))
    console.print(_config_text(workflow))


@workflows_app.command("check")
def check_cmd(path: Path) -> None:
    """Validate a workflow file or folder; errors name the file and the field."""
    try:
        found = load_workflows(path)
    except WorkflowLoadError as exc:
        _fail(str(exc), code=1)
    console.print(f"ok: {len(found)} workflows ({escape(', '.join(w.name for w in found))})")


def _registry(paths: list[Path] | None) -> WorkflowRegistry:
    try:
        return WorkflowRegistry.with_builtins(paths or [])
    except WorkflowLoadError as exc:
        _fail(str(exc), code=1)


def _fail(message: str, code: int) -> NoReturn:
    errors.print(message, markup=False)
    raise typer.Exit(code)


def _phase_text(phase: Phase) -> str:
    lines = [escape(phase.description.strip())]
    lines += _section("Done when", phase.done_definitions)
    lines += _section("Outputs", phase.outputs)
    lines += _section("Next steps", phase.next_steps)
    if phase.additional_notes.strip():
        lines += ["", "[bold]Notes[/]", escape(phase.additional_notes.strip())]
    lines += _validation_lines(phase)
    agent = " ".join(filter(None, [phase.agent.cli, phase.agent.model])) or "launcher default"
    lines += ["", f"[bold]Agent:[/] {escape(agent)}"]
    if phase.verify is not None:
        lines.append(f"[bold]Verify:[/] {_verify_text(phase.verify)}")
    if phase.working_directory:
        lines.append(f"[bold]Working directory:[/] {escape(phase.working_directory)}")
    return "\n".join(lines)


def _validation_lines(phase: Phase) -> list[str]:
    validation = phase.validation
    if not validation.enabled:
        return ["", "[bold]Validation:[/] off"]
    lines = ["", "[bold]Validation:[/] on, a validator checks"]
    lines += [f"• {escape(criterion)}" for criterion in validation.criteria]
    if validation.instructions.strip():
        lines.append(escape(validation.instructions.strip()))
    return lines


def _section(heading: str, items: list[str]) -> list[str]:
    if not items:
        return []
    return ["", f"[bold]{heading}[/]", *[f"• {escape(item)}" for item in items]]


def _config_text(workflow: Workflow) -> str:
    config = workflow.config
    lines = [
        f"max agents {config.max_concurrent_agents} · tickets: {config.enable_tickets}"
        f" · launch parameters: {'' if config.launch_parameters else 'none'}"
    ]
    lines += [f"• {escape(_param_text(p))}" for p in config.launch_parameters]
    if config.verify is not None:
        lines.append(f"merge check (every phase without its own): {_verify_text(config.verify)}")
    if config.has_result:
        lines += _section(f"Result ({config.on_result_found} when found)", config.result_criteria)
    return "\n".join(lines)


def _param_text(param: LaunchParameter) -> str:
    kind = f"one of {', '.join(param.options)}" if param.type == "choice" else param.type
    need = "required" if param.required and param.default is None else "optional"
    default = f", default {param.default}" if param.default is not None else ""
    about = f": {param.description}" if param.description else ""
    return f"{param.name} ({kind}, {need}{default}){about}"


def _verify_text(verify: Verify) -> str:
    return f"`{escape(verify.command)}` within {verify.timeout:g}s, on failure {verify.on_fail}"
