"""Start a program with extra environment read from a file, then delete the file.

Run as `python -I env_exec.py FILE -- PROGRAM ARGS...` (standard library only).
tmux's `-e KEY=VALUE` puts values on tmux's command line, which `ps` shows to
every local user; an agent's token must reach its environment without that.
The file (0600, JSON) is removed before the program starts.
"""

from __future__ import annotations

import json
import os
import sys


def main(argv: list[str]) -> int:
    if len(argv) < 4 or argv[2] != "--":
        print("usage: env_exec.py FILE -- PROGRAM [ARGS...]", file=sys.stderr)
        return 2
    path, program = argv[1], argv[3:]
    try:
        with open(path) as handle:
            extra = json.load(handle)
    finally:
        if os.path.exists(path):
            os.unlink(path)
    env = {**os.environ, **{str(k): str(v) for k, v in extra.items()}}
    try:
        os.execvpe(program[0], program, env)
    except OSError as exc:
        print(f"cannot start {program[0]}: {exc}", file=sys.stderr)
    return 127


if __name__ == "__main__":
    sys.exit(main(sys.argv))
