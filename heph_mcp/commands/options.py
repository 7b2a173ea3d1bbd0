"""Options more than one `heph` command takes, declared once so their help reads the same."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

Project = Annotated[Path | None, typer.Option(help="Project repository (default: cwd)")]
Host = Annotated[str | None, typer.Option(help="Bind address (default 127.0.0.1)")]
Port = Annotated[int | None, typer.Option(help="Port (default 8000)")]
# The key stays out of the command line (and so out of `ps`): HEPH_QDRANT_API_KEY or the file.
QdrantUrl = Annotated[
    str | None,
    typer.Option(
        help="Qdrant server or cluster for the memory index, its key in HEPH_QDRANT_API_KEY"
        " (default: embedded in .hephaestus/qdrant)"
    ),
]
