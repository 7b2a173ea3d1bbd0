"""The `heph` command: a thin layer over library functions."""

from __future__ import annotations

import asyncio
import json
import shlex
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from heph_mcp.cli_memory import memory_app
from heph_mcp.cli_workflows import workflows_app
from heph_mcp.client import HephCallError, HephClient
from heph_mcp.identity import local_token
from heph_mcp.serve import ServeError, serve
from heph_mcp.settings import Settings, load_settings
from heph_mcp.status_view import render_status

app = typer.Typer(
    name="heph",
    help="Hephaestus: a coordinated swarm of coding agents.",
    no_args_is_help=True,
    add_completion=False,
)
app.add_typer(workflows_app, name="workflows")
app.add_typer(memory_app, name="memory")
console = Console()
errors = Console(stderr=True, soft_wrap=True)

Project = Annotated[Path | None, typer.Option(help="Project repository (default: cwd)")]
Host = Annotated[str | None, typer.Option(help="Bind address (default 127.0.0.1)")]
Port = Annotated[int | None, typer.Option(help="Port (default 8000)")]


def _settings(project: Path | None, host: str | None = None, port: int | None = None) -> Settings:
    return load_settings(project, host=host, port=port)


def mcp_add_line(settings: Settings) -> str:
    token = local_token(settings.secrets_dir, "user")
    return shlex.join(
        [
            "claude",
            "mcp",
            "add",
            "--transport",
            "http",
            "hephaestus",
            settings.url,
            "--header",
            f"Authorization: Bearer {token}",
        ]
    )


@app.command("serve")
def serve_cmd(project: Project = None, host: Host = None, port: Port = None) -> None:
    """Run the MCP server only."""
    _run_server(_settings(project, host, port))


@app.command("up")
def up_cmd(project: Project = None, host: Host = None, port: Port = None) -> None:
    """Start Hephaestus for a project: the server, with state under .hephaestus/."""
    _run_server(_settings(project, host, port))


def _run_server(settings: Settings) -> None:
    console.print(f"[bold]Hephaestus[/] for {settings.project}")
    console.print(f"MCP endpoint: {settings.url}  (state in {settings.state_dir})")
    console.print("Connect Claude Code with:\n  " + mcp_add_line(settings), soft_wrap=True)
    try:
        serve(settings)
    except ServeError as exc:
        errors.print(f"[red]error:[/] {exc}")
        raise typer.Exit(1) from None


@app.command("mcp-config")
def mcp_config_cmd(
    project: Project = None,
    host: Host = None,
    port: Port = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print {url, headers} as JSON")] = False,
) -> None:
    """Print how an MCP host connects as the user (the `claude mcp add` line)."""
    settings = _settings(project, host, port)
    if as_json:
        token = local_token(settings.secrets_dir, "user")
        print(json.dumps({"url": settings.url, "headers": {"Authorization": f"Bearer {token}"}}))
    else:
        print(mcp_add_line(settings))


@app.command("status")
def status_cmd(
    project: Project = None,
    run: Annotated[str | None, typer.Option(help="Only this run")] = None,
) -> None:
    """Show runs, tasks by phase and status, and agents."""
    settings = _settings(project)
    try:
        status = asyncio.run(_fetch_status(settings, run))
    except HephCallError as exc:
        errors.print(f"[red]error:[/] {exc}")
        raise typer.Exit(1) from None
    except Exception as exc:  # noqa: BLE001 - top-level handler: name the cause and the fix
        errors.print(
            f"[red]error:[/] cannot reach the server at {settings.url} ({exc}); "
            "start it with `heph up` in the project, or pass --project"
        )
        raise typer.Exit(1) from None
    console.print(render_status(status))


async def _fetch_status(settings: Settings, run: str | None) -> dict:
    async with HephClient.for_project(settings) as client:
        return await client.status(run)


def main() -> None:
    app()


if __name__ == "__main__":
    main()
