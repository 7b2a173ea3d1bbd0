"""The `heph` command: a thin layer over library functions."""

from __future__ import annotations

import asyncio
import contextlib
import functools
import json
import logging
import os
import shlex
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Annotated
from urllib.parse import urlsplit

import typer
from rich.console import Console, Group
from rich.live import Live
from rich.logging import RichHandler
from rich.markup import escape

from claude_config.confinement import network_is_open
from guardian.runner import run_guardian
from heph_mcp.board import board_link
from heph_mcp.client import HephClient
from heph_mcp.commands import controls
from heph_mcp.commands.live_view import render_agent_output, render_task_detail
from heph_mcp.commands.logs import setup_up_logging
from heph_mcp.commands.memory import memory_app
from heph_mcp.commands.options import Host, Port, Project, QdrantUrl
from heph_mcp.commands.status_view import render_status
from heph_mcp.commands.up import up
from heph_mcp.commands.workflows import workflows_app
from heph_mcp.identity import local_token
from heph_mcp.printable import PrintableLog
from heph_mcp.serve import ServeError, running_url, serve
from heph_mcp.settings import Settings, load_settings
from launcher.git_repo import GitError, open_repo
from launcher.land import land
from launcher.runner import LauncherError, run_launcher
from launcher.tmux import TmuxError
from launcher.worker import run_worker

app = typer.Typer(
    name="heph",
    help="Hephaestus: a coordinated swarm of coding agents.",
    no_args_is_help=True,
    add_completion=False,
)
app.add_typer(workflows_app, name="workflows")
app.add_typer(memory_app, name="memory")
console = Console()
LOOPBACK = ("127.0.0.1", "localhost", "::1")
errors = Console(stderr=True, soft_wrap=True)


def _settings(project: Path | None, host: str | None = None, port: int | None = None) -> Settings:
    return load_settings(project, host=host, port=port)


def _running_settings(project: Path | None, host: str | None, port: int | None) -> Settings:
    """Settings pointing at the project's running server (its real port) unless flags say."""
    settings = _settings(project, host, port)
    url = running_url(settings) if host is None and port is None else None
    if url is None:
        return settings
    address = urlsplit(url)
    return _settings(project, address.hostname, address.port)


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
def serve_cmd(
    project: Project = None, host: Host = None, port: Port = None, qdrant_url: QdrantUrl = None
) -> None:
    """Run the MCP server only."""
    _run_server(load_settings(project, host=host, port=port, qdrant_url=qdrant_url))


AgentCli = Annotated[
    str | None, typer.Option(help="claude (default), codex, gemini, opencode or custom")
]
AgentCommand = Annotated[str | None, typer.Option(help="Command line of the custom agent CLI")]
Slots = Annotated[int | None, typer.Option(help="Agents this launcher runs at once")]
TmuxSocket = Annotated[str | None, typer.Option(help="tmux -L socket name (default server)")]
LogLevel = Annotated[
    str | None,
    typer.Option(
        help="DEBUG, INFO (default), WARNING or ERROR; DEBUG also shows HTTP access lines and"
        " MCP client requests on the terminal"
    ),
]
Sandbox = Annotated[
    bool | None,
    typer.Option(
        "--sandbox/--no-sandbox",
        help="Run agents sandboxed (default). --no-sandbox lets every agent read and change"
        " anything your user can, the tokens in .hephaestus/secrets included",
    ),
]


@app.command("up")
def up_cmd(
    project: Project = None,
    host: Host = None,
    port: Port = None,
    agent_cli: AgentCli = None,
    agent_command: AgentCommand = None,
    slots: Slots = None,
    tmux_socket: TmuxSocket = None,
    qdrant_url: QdrantUrl = None,
    sandbox: Sandbox = None,
    log_level: LogLevel = None,
) -> None:
    """Start Hephaestus for a project: the server and the launcher, state under .hephaestus/."""
    settings = _launcher_settings(
        project,
        agent_cli,
        agent_command,
        slots,
        tmux_socket,
        host=host,
        port=port,
        qdrant_url=qdrant_url,
        agent_sandbox=sandbox,
        log_level=log_level,
    )
    setup_up_logging(settings, errors)
    _guarded(lambda: up(settings, on_ready=lambda: _banner(settings), console=console))
    _exit_at_once()


def _exit_at_once() -> None:
    """Leave without the interpreter's teardown: after a clean stop every file of ours is
    closed, and unloading the embedding model's libraries (torch) took 2 to 5 s more, which
    is most of what made Ctrl-C slow."""
    errors.print("stopped; agent sessions keep running and are re-adopted on the next start")
    logging.shutdown()
    for stream in (sys.stdout, sys.stderr, console.file, errors.file):
        stream.flush()
    os._exit(0)


@app.command("launcher")
def launcher_cmd(
    project: Project = None,
    server: Annotated[str | None, typer.Option(help="Server MCP URL (default: running)")] = None,
    agent_cli: AgentCli = None,
    agent_command: AgentCommand = None,
    slots: Slots = None,
    tmux_socket: TmuxSocket = None,
    sandbox: Sandbox = None,
) -> None:
    """Run only the launcher against a running server: queued tasks become agent sessions."""
    settings = _launcher_settings(
        project, agent_cli, agent_command, slots, tmux_socket, agent_sandbox=sandbox
    )
    _logging(settings)
    console.print(f"[bold]Launcher[/] for {settings.project} as worker {settings.worker_id}")
    _sandbox_line(settings)
    _guarded(lambda: asyncio.run(run_launcher(settings, asyncio.Event(), url=server)))


@app.command("worker")
def worker_cmd(
    server: Annotated[
        str, typer.Option(help="The server's MCP URL, e.g. https://heph.example.com/mcp")
    ],
    project: Project = None,
    token_file: Annotated[
        Path | None,
        typer.Option(help="File holding the server's ops token (or set HEPH_OPS_TOKEN)"),
    ] = None,
    labels: Annotated[
        str | None, typer.Option(help="This worker's labels, comma-separated (gpu,macos)")
    ] = None,
    worker_id: Annotated[str | None, typer.Option(help="Name in claims (default: host)")] = None,
    agent_cli: AgentCli = None,
    agent_command: AgentCommand = None,
    slots: Slots = None,
    tmux_socket: TmuxSocket = None,
    sandbox: Sandbox = None,
) -> None:
    """Add this host's capacity to a server elsewhere: a launcher and a Guardian working in
    this host's clone; branches are fetched from and pushed to the server's repository."""
    settings = _launcher_settings(
        project, agent_cli, agent_command, slots, tmux_socket, agent_sandbox=sandbox,
        ops_token_file=token_file, worker_id=worker_id,
        worker_labels=[x.strip() for x in labels.split(",") if x.strip()] if labels else None,
    )  # fmt: skip
    _logging(settings)
    tags = ", ".join(settings.worker_labels) or "no labels"
    console.print(f"[bold]Worker[/] {settings.worker_id} ({tags}) for {server}")
    _sandbox_line(settings)
    _guarded(lambda: asyncio.run(run_worker(settings, asyncio.Event(), server)))


@app.command("guardian")
def guardian_cmd(
    project: Project = None,
    server: Annotated[str | None, typer.Option(help="Server MCP URL (default: running)")] = None,
    judge: Annotated[
        str | None, typer.Option(help="auto, heuristic, claude, anthropic or openai")
    ] = None,
    interval: Annotated[float | None, typer.Option(help="Seconds between looks")] = None,
    tmux_socket: TmuxSocket = None,
) -> None:
    """Run only the Guardian: watch this host's agents, judge them, steer the ones that drift."""
    settings = load_settings(
        project, guardian_judge=judge, guardian_interval=interval, tmux_socket=tmux_socket
    )
    _logging(settings)
    console.print(f"[bold]Guardian[/] for {settings.project} as worker {settings.worker_id}")
    _guarded(lambda: asyncio.run(run_guardian(settings, asyncio.Event(), url=server)))


def _launcher_settings(
    project: Path | None,
    agent_cli: str | None,
    agent_command: str | None,
    slots: int | None,
    tmux_socket: str | None,
    **more: object,
) -> Settings:
    """Settings with the launcher's flags applied (unset flags leave file and env values)."""
    return load_settings(
        project,
        agent_cli=agent_cli,
        agent_command=agent_command,
        launcher_slots=slots,
        tmux_socket=tmux_socket,
        **more,
    )


def _banner(settings: Settings) -> None:
    """The connect line and the board link carry the user token: shown on a terminal, never
    into a log file."""
    console.print(f"[bold]Hephaestus[/] for {settings.project}")
    console.print(f"MCP endpoint: {settings.url}  (state in {settings.state_dir})")
    _exposure_line(settings)
    console.print(f"Logs: {settings.logs_dir / 'heph.log'} and guardian.log")
    _sandbox_line(settings)
    if console.is_terminal:
        console.print("Connect Claude Code with:\n  " + mcp_add_line(settings), soft_wrap=True)
        console.print(f"Board (live view of the swarm): {board_link(settings)}", soft_wrap=True)
    else:
        console.print("Connect Claude Code with the line `heph mcp-config` prints.")
        console.print("Board (live view of the swarm): `heph board-link` prints its login link")


def _exposure_line(settings: Settings) -> None:
    """Serving beyond loopback is explicit: say that tokens cross the network in clear."""
    if settings.host not in LOOPBACK:
        errors.print(
            f"[yellow]warning:[/] listening on {settings.host}: bearer tokens (user, ops,"
            " agents') travel in clear over plain HTTP. Put a TLS reverse proxy in front and"
            " set public_url to its https URL (README: Workers on other hosts)."
        )


def _sandbox_line(settings: Settings) -> None:
    """Say how agents are confined; turning the sandbox off is said loudly, with its cost."""
    if settings.agent_sandbox:
        network = settings.network_allowed_domains
        reach = "open" if network_is_open(network) else ", ".join(network)
        console.print(f"Agents run sandboxed (network: {reach}); approvals go to the server")
    else:
        errors.print(
            "[yellow]warning:[/] --no-sandbox: agents run unconfined. Every agent can read and"
            " change anything your user can: .hephaestus/secrets (the user and ops tokens),"
            " other agents' worktrees and configs, your checkout, your home folder."
        )


def _logging(settings: Settings) -> None:
    handler = RichHandler(console=errors, show_path=False)
    handler.addFilter(PrintableLog())  # titles and reasons in the log are agents' text
    logging.basicConfig(level=settings.log_level.upper(), format="%(message)s", handlers=[handler])


def _guarded(run: Callable[[], None]) -> None:
    """Start-up failures print their cause and fix, not a traceback; Ctrl-C ends quietly."""
    try:
        run()
    except (ServeError, GitError, TmuxError, LauncherError) as exc:
        errors.print(f"[red]error:[/] {exc}")
        raise typer.Exit(1) from None
    except KeyboardInterrupt:
        errors.print("stopped; agent sessions keep running and are re-adopted on the next start")


def _run_server(settings: Settings) -> None:
    _guarded(lambda: serve(settings, on_ready=lambda: _banner(settings)))


@app.command("mcp-config")
def mcp_config_cmd(
    project: Project = None,
    host: Host = None,
    port: Port = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print {url, headers} as JSON")] = False,
) -> None:
    """Print how an MCP host connects as the user (the `claude mcp add` line)."""
    settings = _running_settings(project, host, port)
    if as_json:
        token = local_token(settings.secrets_dir, "user")
        print(json.dumps({"url": settings.url, "headers": {"Authorization": f"Bearer {token}"}}))
    else:
        print(mcp_add_line(settings))


@app.command("board-link")
def board_link_cmd(project: Project = None, host: Host = None, port: Port = None) -> None:
    """Print the login link of the live board page (it holds your user token)."""
    print(board_link(_running_settings(project, host, port)))


@app.command("land")
def land_cmd(
    run: Annotated[str, typer.Argument(help="The run whose branch heph/RUN to land")],
    into: Annotated[
        str | None, typer.Option(help="Your branch to merge it into (default: the checked-out one)")
    ] = None,
    project: Project = None,
) -> None:
    """Merge a run's branch heph/RUN into your branch: the only way its work reaches it."""
    settings = _settings(project)
    try:
        outcome = land(open_repo(settings.project), run, into)
    except GitError as exc:
        errors.print(f"[red]error:[/] {exc}")
        raise typer.Exit(1) from None
    if outcome.state == "refused":
        errors.print(f"[red]error:[/] {escape(outcome.message)}")
        raise typer.Exit(1)
    print(outcome.message)


@app.command("status")
def status_cmd(
    project: Project = None,
    run: Annotated[str | None, typer.Option(help="Only this run")] = None,
    watch: Annotated[bool, typer.Option("--watch", help="Keep the view live (Ctrl-C)")] = False,
    interval: Annotated[float, typer.Option(help="Seconds between refreshes")] = 2.0,
    task: Annotated[
        str | None, typer.Option(help="One task in detail: brief, guidance, merge, diff stat")
    ] = None,
    agent: Annotated[str | None, typer.Option(help="The end of one running agent's pane")] = None,
) -> None:
    """Show runs, tasks by phase and status, agents with the Guardian's view, recent steering."""
    settings = _settings(project)
    if task is not None or agent is not None:
        _live_status(settings, task, agent, watch, interval)
        return
    with controls.server_errors(settings):
        if watch:
            with contextlib.suppress(KeyboardInterrupt):
                asyncio.run(_watch_status(settings, run, interval))
            return
        status = asyncio.run(_fetch_status(settings, run))
    console.print(render_status(status))


def _live_status(
    settings: Settings, task: str | None, agent: str | None, watch: bool, interval: float
) -> None:
    """`--task` / `--agent`: the board's live view on the terminal (`--watch` follows it)."""
    if task is not None:
        view = functools.partial(_fetch_view, settings, "get_task_detail", "task_id", task)
    else:
        view = functools.partial(_fetch_view, settings, "get_agent_output", "agent_id", agent)
    with controls.server_errors(settings):
        if not watch:
            console.print(asyncio.run(view()))
            return
        with contextlib.suppress(KeyboardInterrupt), Live(console=console) as live:
            while True:
                live.update(asyncio.run(view()))
                time.sleep(interval)  # a display refresh, not a wait on a condition


async def _fetch_view(settings: Settings, tool: str, key: str, value: str | None) -> Group:
    async with HephClient.for_project(settings) as client:
        found = await client.call(tool, **{key: value})
    return render_task_detail(found) if tool == "get_task_detail" else render_agent_output(found)


async def _watch_status(settings: Settings, run: str | None, interval: float) -> None:
    async with HephClient.for_project(settings) as client:
        with Live(console=console, refresh_per_second=4, screen=False) as live:
            while True:
                live.update(render_status(await client.status(run)))
                await asyncio.sleep(interval)  # a display refresh, not a wait on a condition


async def _fetch_status(settings: Settings, run: str | None) -> dict:
    async with HephClient.for_project(settings) as client:
        return await client.status(run)


controls.register(app)  # tell, cancel-task, retry, priority, stop-agent, pause, resume, budget


def main() -> None:
    app()


if __name__ == "__main__":
    main()
