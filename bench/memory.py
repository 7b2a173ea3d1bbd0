"""Memory pipeline throughput and search latency, with the real model and embedded Qdrant.

    .venv/bin/python bench/memory.py [--saves 400] [--rounds 5] [--sizes 1000,20000]

1. save_memory throughput (service layer: embed, dedup search, SQLite, Qdrant
   upsert) with 1 agent and 16 concurrent agents saving, against raw
   `model.encode` of the same texts in the same model thread (batches of 64:
   the best the model does here; and one text at a time, all a lone saver can
   have), each run between two runs of its baseline (see `save_rounds`).
2. find_memories latency p50/p99 (embed the query, search, read SQLite) with
   1k and 20k memories stored, against encoding the query alone, its floor.
   The store is filled through the batch path (encode 64 at a time, one upsert
   per batch), not through save(). `--rounds 0` measures only this.
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import random
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from statistics import median

import numpy as np
from rich.console import Console
from rich.progress import Progress
from rich.table import Table

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from heph_mcp.memory import Memory  # noqa: E402
from heph_mcp.memory.embedder import LocalEmbedder  # noqa: E402
from heph_mcp.records import Principal  # noqa: E402
from heph_mcp.services.memories import MemoryService  # noqa: E402
from heph_mcp.settings import load_settings  # noqa: E402
from heph_mcp.store import Store  # noqa: E402

SUBJECTS = [
    "the parser",
    "the login route",
    "the task queue",
    "the cache",
    "the CLI",
    "the websocket hub",
    "the invoice service",
    "the date picker",
    "the uploader",
    "the config loader",
    "the scheduler",
    "the search index",
    "the exporter",
]
FINDINGS = [
    "drops the last line when a file has no trailing newline",
    "retries three times with exponential backoff",
    "is not thread safe",
    "reads the whole file into memory",
    "ignores the user's locale",
    "uses a zero-based month index",
    "leaks a connection per request",
    "keys entries by path but not by version",
    "logs secrets at debug level",
    "needs the locales package on CI",
    "times out after 30 seconds",
    "sorts by creation time, not priority",
    "skips hidden files",
]
ADVICE = [
    "so always pass an explicit encoding",
    "so call close() in a finally block",
    "so batch the writes",
    "so check the return code",
    "so pin the version",
    "so add a regression test first",
    "so guard it with a lock",
    "so stream in 1 MB chunks",
    "so normalise paths first",
    "so set a timeout",
]


def texts(n: int, seed: int) -> list[str]:
    """Realistic memory texts, each its own subject, finding and advice while there are
    combinations enough (1,690); beyond that (filling a store to search) they repeat."""
    rng = random.Random(seed)
    combos = list(itertools.product(SUBJECTS, FINDINGS, ADVICE))
    picks = rng.sample(combos, n) if n <= len(combos) else rng.choices(combos, k=n)
    return sorted(
        f"{subject.capitalize()} {finding}, {advice} (see module {rng.randrange(10_000)})."
        for subject, finding, advice in picks
    )


async def distinct(embedder: LocalEmbedder, candidates: list[str], n: int) -> list[str]:
    """The first `n` candidates no two of which save_memory would merge, so the saving paths
    store every text the baseline encodes."""
    vectors = np.concatenate(
        [
            await embedder.encode_direct(candidates[i : i + 64])
            for i in range(0, len(candidates), 64)
        ]
    )
    kept: list[int] = []
    threshold = load_settings().memory_merge_threshold
    for i, vector in enumerate(vectors):
        if not kept or float(np.max(vectors[kept] @ vector)) < threshold:
            kept.append(i)
    assert len(kept) >= n, f"only {len(kept)} distinct texts; raise the candidates"
    return [candidates[i] for i in kept[:n]]


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1000


async def open_service(tmp: Path, embedder: LocalEmbedder) -> tuple[MemoryService, Store, Memory]:
    settings = load_settings(project=tmp)
    store = await Store.open(settings.db_path)
    memory = Memory.open(settings, embedder=embedder)
    await memory.ensure_collections()
    await store_user_run(store)
    return MemoryService(store, memory, settings), store, memory


async def store_user_run(store: Store) -> None:
    async with store.transaction() as db:
        await db.execute(
            "INSERT INTO runs VALUES ('rbench', 'w', '{}', 'g', '{}', 'active', 4, 'user', 0, 0)"
        )


async def save_throughput(embedder: LocalEmbedder, corpus: list[str], savers: int) -> float:
    """Memories/s when `savers` agents save the corpus concurrently, each its next text."""
    with tempfile.TemporaryDirectory() as tmp:
        service, store, memory = await open_service(Path(tmp), embedder)
        queue = list(corpus)

        async def saver(agent: Principal) -> None:
            while queue:
                await service.save(agent, queue.pop(), "discovery")

        agents = [Principal(id=f"a{n}", role="agent", run_id="rbench") for n in range(savers)]
        start = time.perf_counter()
        await asyncio.gather(*(saver(agent) for agent in agents))
        elapsed = time.perf_counter() - start
        merged = await store.fetchone("SELECT COALESCE(SUM(merged_count), 0) FROM memories")
        await memory.close()
        await store.close()
    assert merged is not None and merged[0] == 0, "the corpus must not merge (see distinct)"
    return len(corpus) / elapsed


async def raw_throughput(embedder: LocalEmbedder, corpus: list[str], batch: int) -> float:
    start = time.perf_counter()
    for i in range(0, len(corpus), batch):
        await embedder.encode_direct(corpus[i : i + batch])
    return len(corpus) / (time.perf_counter() - start)


@dataclass
class Rounds:
    """Rates per path, one per round, and each round's ratio to its bracketing baseline."""

    rates: dict[str, list[float]] = field(default_factory=dict)
    ratios: dict[str, list[float]] = field(default_factory=dict)

    def add(self, path: str, rate: float) -> float:
        self.rates.setdefault(path, []).append(rate)
        return rate


RAW_64, RAW_1 = "raw model.encode, batch 64", "raw model.encode, one at a time"
SAVE_16, SAVE_1 = "save_memory, 16 concurrent agents", "save_memory, 1 agent"
COMPARED = (
    (SAVE_16, RAW_64, "16 agents saving vs raw encode in batches of 64"),
    (SAVE_1, RAW_1, "1 agent saving vs raw encode one text at a time"),
)


async def save_rounds(
    embedder: LocalEmbedder, corpus: list[str], rounds: int, console: Console
) -> Rounds:
    """Each saving path runs between two runs of its baseline, and its round's ratio divides
    by their mean: this machine's speed drifts by a fifth from one minute to the next
    (shared cores), so only measurements taken back to back compare fairly."""
    out = Rounds()
    for round_no in range(rounds):
        for saving, savers, raw, batch in ((SAVE_16, 16, RAW_64, 64), (SAVE_1, 1, RAW_1, 1)):
            with console.status(f"round {round_no + 1}/{rounds}: {saving}"):
                before = out.add(raw, await raw_throughput(embedder, corpus, batch))
                rate = out.add(saving, await save_throughput(embedder, corpus, savers))
                after = out.add(raw, await raw_throughput(embedder, corpus, batch))
            out.ratios.setdefault(f"{saving}/{raw}", []).append(2 * rate / (before + after))
    return out


def save_tables(result: Rounds, saves: int) -> tuple[Table, Table]:
    rates = Table(title=f"save throughput, {saves} memories per run")
    for column in ("path", "memories/s (each run)", "median"):
        rates.add_column(column, justify="right")
    for path, values in result.rates.items():
        shown = ", ".join(f"{v:.0f}" for v in values)
        rates.add_row(path, shown, f"{median(values):.0f}")
    ratios = Table(title="save throughput / raw encode, each round against its own baseline")
    for column in ("comparison", "each round", "median", "goal"):
        ratios.add_column(column, justify="right")
    for saving, raw, label in COMPARED:
        values = result.ratios[f"{saving}/{raw}"]
        shown = ", ".join(f"{v:.2f}" for v in values)
        ratios.add_row(label, shown, f"{median(values):.2f}", ">= 0.80")
    return rates, ratios


async def fill(
    service: MemoryService, store: Store, memory: Memory, corpus: list[str], progress: Progress
) -> None:
    bar = progress.add_task(f"storing {len(corpus)} memories", total=len(corpus))
    for i in range(0, len(corpus), 64):
        chunk = corpus[i : i + 64]
        ids = [f"mb{i + j}" for j in range(len(chunk))]
        vectors = await memory.embedder.embed(chunk)
        async with store.transaction() as db:
            await db.executemany(
                "INSERT INTO memories (id, scope, type, content, created_by, created_at,"
                " updated_at) VALUES (?, 'rbench', 'discovery', ?, 'bench', 0, 0)",
                list(zip(ids, chunk, strict=True)),
            )
        await memory.memories.upsert("rbench", ids, vectors, [{"type": "discovery"}] * len(chunk))
        progress.advance(bar, len(chunk))


async def find_latency(
    embedder: LocalEmbedder, size: int, queries: list[str], progress: Progress
) -> dict[str, list[float]]:
    """Seconds per query: find_memories whole, the vector search alone, and the baseline,
    encoding the query alone (which find cannot avoid), each query in turn."""
    with tempfile.TemporaryDirectory() as tmp:
        service, store, memory = await open_service(Path(tmp), embedder)
        await fill(service, store, memory, texts(size, seed=size), progress)
        agent = Principal(id="a1", role="agent", run_id="rbench", task_id=None)
        times: dict[str, list[float]] = {"find": [], "search": [], "encode": []}
        for query in queries:
            start = time.perf_counter()
            hits = await service.find(agent, query, limit=5)
            times["find"].append(time.perf_counter() - start)
            assert hits, "a search over a filled store must find something"
            start = time.perf_counter()
            vector = (await embedder.encode_direct([query]))[0]
            times["encode"].append(time.perf_counter() - start)
            start = time.perf_counter()
            await memory.memories.search(["rbench", "project"], vector, limit=5)
            times["search"].append(time.perf_counter() - start)
        await memory.close()
        await store.close()
    return times


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--saves", type=int, default=400)
    parser.add_argument("--sizes", default="1000,20000")
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    console = Console()
    embedder = LocalEmbedder()
    await embedder.warm_up()
    corpus = await distinct(embedder, texts(min(2 * args.saves, 1690), seed=1), args.saves)
    if args.rounds:  # --rounds 0 measures find latency only
        measured = await save_rounds(embedder, corpus, args.rounds, console)
        for table in save_tables(measured, len(corpus)):
            console.print(table)
    queries = [
        f"which module {rng}"
        for rng in (
            "leaks connections",
            "ignores the locale",
            "is slow with big files",
            "has month bugs",
            "logs secrets",
        )
    ] * 40
    latency = Table(title=f"find_memories latency ({len(queries)} queries)")
    columns = ("memories", "find p50 / p99 ms", "search alone p50 / p99", "encode query p50")
    for column in (*columns, "find / encode (p50)"):
        latency.add_column(column, justify="right")
    with Progress(console=console, transient=True) as progress:
        for size in [int(s) for s in args.sizes.split(",")]:
            times = await find_latency(embedder, size, queries, progress)
            find, search, encode = times["find"], times["search"], times["encode"]
            latency.add_row(
                str(size),
                f"{pct(find, 0.5):.1f} / {pct(find, 0.99):.1f}",
                f"{pct(search, 0.5):.1f} / {pct(search, 0.99):.1f}",
                f"{pct(encode, 0.5):.1f}",
                f"{pct(find, 0.5) / pct(encode, 0.5):.2f}",
            )
    console.print(latency)
    embedder.close()


if __name__ == "__main__":
    asyncio.run(main())
