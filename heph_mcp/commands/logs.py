"""Where `heph up` logs go: files under `.hephaestus/logs/`, rotated, and only what needs
the user on the terminal.

- `heph.log`: the server and the launcher; `guardian.log`: the Guardian (its own, busy).
- The terminal shows warnings and errors; the event log (event_log.py) tells the story.
- HTTP access lines and MCP clients' request logs (httpx, mcp) appear nowhere unless the
  log level is DEBUG: at one request a second per agent they drown everything else.
"""

from __future__ import annotations

import logging
from logging.handlers import RotatingFileHandler
from pathlib import Path

from rich.console import Console
from rich.logging import RichHandler

from heph_mcp.settings import Settings

LOG_BYTES = 5 * 1024 * 1024
LOG_BACKUPS = 3
FORMAT = "%(asctime)s.%(msecs)03d %(levelname)s %(name)s: %(message)s"
CHATTY = ("uvicorn.access", "httpx", "httpx2", "httpcore", "mcp", "fastmcp", "sse_starlette")
GUARDIAN = "heph.guardian"


def debugging(settings: Settings) -> bool:
    return settings.log_level.upper() == "DEBUG"


def setup_up_logging(settings: Settings, terminal: Console) -> None:
    """Configure the root logger for `heph up` (replacing handlers from an earlier setup)."""
    debug = debugging(settings)
    settings.logs_dir.mkdir(parents=True, exist_ok=True)
    root = logging.getLogger()
    for handler in list(root.handlers):
        root.removeHandler(handler)
    root.setLevel(logging.DEBUG if debug else settings.log_level.upper())
    screen = RichHandler(
        console=terminal, show_path=False, level=logging.DEBUG if debug else logging.WARNING
    )
    root.addHandler(_file(settings.logs_dir / "heph.log"))
    root.addHandler(screen)
    guardian = logging.getLogger(GUARDIAN)
    guardian.propagate = False
    guardian.handlers = [_file(settings.logs_dir / "guardian.log"), screen]
    for name in CHATTY:
        logging.getLogger(name).setLevel(logging.DEBUG if debug else logging.WARNING)


def _file(path: Path) -> logging.Handler:
    handler = RotatingFileHandler(path, maxBytes=LOG_BYTES, backupCount=LOG_BACKUPS)
    handler.setFormatter(logging.Formatter(FORMAT, datefmt="%Y-%m-%d %H:%M:%S"))
    return handler
