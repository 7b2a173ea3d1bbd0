"""The read-only board: a live page of the swarm served next to /mcp (see routes.py)."""

from heph_mcp.board.auth import board_link, board_url
from heph_mcp.board.routes import Board

__all__ = ["Board", "board_link", "board_url"]
