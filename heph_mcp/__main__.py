"""`python -m heph_mcp` runs the `heph` command, for when the script is not on PATH."""

from heph_mcp.commands.cli import main

main()
