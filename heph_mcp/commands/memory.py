"""`heph memory reindex`: rebuild the vector index from SQLite with the configured model."""

from __future__ import annotations

import asyncio

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from heph_mcp.commands.options import Project, QdrantUrl
from heph_mcp.memory import Memory
from heph_mcp.memory.vectors import IndexLocked, IndexUnreachable, check_reachable
from heph_mcp.services.dedup import TaskDeduper
from heph_mcp.services.memories import MemoryService
from heph_mcp.services.ticket_search import TicketSearch
from heph_mcp.settings import Settings, load_settings
from heph_mcp.store import Store

memory_app = typer.Typer(name="memory", help="Shared memory maintenance.", no_args_is_help=True)
console = Console()
errors = Console(stderr=True, soft_wrap=True)


@memory_app.command("reindex")
def reindex_cmd(project: Project = None, qdrant_url: QdrantUrl = None) -> None:
    """Re-embed every memory, task and ticket (after changing the embedding model)."""
    settings = load_settings(project, qdrant_url=qdrant_url)
    try:
        memories, tasks, tickets = asyncio.run(reindex(settings))
    except (IndexLocked, IndexUnreachable) as exc:
        errors.print(f"[red]error:[/] {exc}")
        raise typer.Exit(1) from None
    console.print(
        f"reindexed {memories} memories and {tasks} tasks and {tickets} tickets"
        f" with {settings.embedding_model}"
    )


async def reindex(settings: Settings) -> tuple[int, int, int]:
    store = await Store.open(settings.db_path)
    memory = Memory.open(settings)
    try:
        await check_reachable(memory.client, settings.qdrant_url)
        total = await _count(store)
        with Progress(
            TextColumn("{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            console=console,
        ) as progress:
            bar = progress.add_task("re-embedding", total=total)
            advance = lambda n: progress.advance(bar, n)  # noqa: E731
            memories = await MemoryService(store, memory, settings).reindex(advance)
            tasks = await TaskDeduper(store, memory, settings).reindex(advance)
            tickets = await TicketSearch(store, memory).reindex(advance)
        return memories, tasks, tickets
    finally:
        await memory.close()
        await store.close()


async def _count(store: Store) -> int:
    row = await store.fetchone(
        "SELECT (SELECT COUNT(*) FROM memories)"
        " + (SELECT COUNT(*) FROM tasks WHERE status != 'duplicate')"
        " + (SELECT COUNT(*) FROM tickets)"
    )
    return int(row[0]) if row else 0
