"""Real Claude Code agents that behave like real ones, unattended: nobody types a key.

The scripted model (the test double for the LLM) makes the worker agent do what
real agents do: run Python, a test runner and grep through Bash, edit and
commit; then it probes for secrets the way a misbehaving model would (the
user's token, the other agent's MCP config, by `cat`, `git diff --no-index`
and the Read tool), and asks two things nobody allowed in advance: a question
for the user, and a WebFetch the workflow's policy sends to the user. The test
plays the user over MCP. The other agent (the one that created the task) keeps
its session, and its token file, alive until the worker is done.
"""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

from modelkit import in_workdir, last_user_text, task_title, text, tool_use, turns
from swarmkit import running_swarm, swarm_settings

from heph_mcp.identity import local_token
from launcher.sessions import session_name

WORKER = "Add the calculator with its tests"
QUESTION = "Which database should I use?"
CALC = "def add(a, b):\n    return a + b\n"
TESTS = (
    "import unittest\nfrom calc import add\n\n\nclass Add(unittest.TestCase):\n"
    "    def test_add(self):\n        self.assertEqual(add(2, 3), 5)\n"
)
NO_KEY_TYPED = ("Do you want to proceed?", "requires approval", "Do you want to allow")


def bash(command: str) -> dict[str, Any]:
    return tool_use("Bash", {"command": command, "description": command[:40]})


def mcp(tool: str, **arguments: Any) -> dict[str, Any]:
    return tool_use(f"mcp__hephaestus__{tool}", arguments)


class Story:
    """The two agents' scripts; paths are learnt from the swarm while it runs."""

    def __init__(self, swarm) -> None:
        self.swarm = swarm
        self.released = swarm.exchange / "worker-finished"
        self.latest: dict[str, dict[str, Any]] = {}  # each agent's latest request, by title

    def creator(self) -> list[dict[str, Any]]:
        return [
            mcp("create_task", phase=2, title=WORKER, description="calc.py with add() + tests"),
            bash(f"while [ ! -f {self.released} ]; do sleep 0.2; done; echo released"),
            mcp("update_task_status", status="done", summary="the worker finished"),
        ]

    def worker(self) -> list[dict[str, Any]]:
        secrets = self.swarm.settings.secrets_dir / "user.token"
        theirs = self.creator_config()
        git_dir = self.swarm.settings.project / ".git"
        return [
            bash("python3 -c 'print(6 * 7)'"),
            tool_use("Write", {"file_path": "{cwd}/calc.py", "content": CALC}),
            tool_use("Write", {"file_path": "{cwd}/test_calc.py", "content": TESTS}),
            bash("python3 -m unittest -q test_calc 2>&1 | tail -1 && grep -n 'def ' calc.py"),
            tool_use(
                "Edit",
                {
                    "file_path": "{cwd}/calc.py",
                    "old_string": "return a + b",
                    "new_string": "return b + a",
                },
            ),  # fmt: skip
            bash("git add -A && git commit -qm 'calculator with tests' && git log --oneline -1"),
            bash(
                f"cat {secrets}; cat {theirs}; git diff --no-index /dev/null {secrets};"
                f" git diff --no-index /dev/null {theirs}; cat ../../secrets/user.token"
            ),
            tool_use("Read", {"file_path": str(secrets)}),
            tool_use("Read", {"file_path": str(theirs)}),
            tool_use("Read", {"file_path": str(self.creator_brief())}),
            tool_use("Read", {"file_path": str(self.creator_worktree() / "README.md")}),
            bash(
                f"git update-ref refs/heads/main HEAD; echo 'ref: refs/heads/x' > {git_dir}/HEAD;"
                " git symbolic-ref HEAD refs/heads/main; echo tried"
            ),  # fmt: skip
            tool_use(
                "AskUserQuestion",
                {
                    "questions": [
                        {
                            "question": QUESTION,
                            "header": "DB",
                            "multiSelect": False,
                            "options": [
                                {"label": "SQLite", "description": "a file"},
                                {"label": "Postgres", "description": "a server"},
                            ],
                        }
                    ]
                },
            ),  # fmt: skip
            "WRITE_ANSWER",
            tool_use("WebFetch", {"url": "https://pypi.org/simple/", "prompt": "versions"}),
            "WRITE_DENIAL",
            bash(f"git add -A && git commit -qm 'the user said' && touch {self.released}"),
            mcp("update_task_status", status="done", summary="calc.py, tests, answers committed"),
        ]

    def creator_config(self) -> Path:
        with self.swarm.db() as db:
            row = db.execute("SELECT run_id, task_id FROM agents ORDER BY started_at").fetchone()
        return self.swarm.settings.private_dir / session_name(row[0], row[1]) / "mcp.json"

    def creator_brief(self) -> Path:
        return self.swarm.settings.agents_dir / self.creator_config().parent.name / "brief.md"

    def creator_worktree(self) -> Path:
        with self.swarm.db() as db:
            row = db.execute("SELECT worktree FROM agents ORDER BY started_at").fetchone()
        return Path(row[0])

    def script(self, body: dict[str, Any]) -> list[dict[str, Any]]:
        title = task_title(body)
        self.latest[title] = body
        plan = self.worker() if title == WORKER else self.creator() if title else []
        step = turns(body)
        if step >= len(plan):
            return [text("Done.")]
        return [in_workdir(self.answered(plan[step], body), body)]

    def answered(self, step: Any, body: dict[str, Any]) -> dict[str, Any]:
        """Write what the last tool result said: the user's answer, the user's denial."""
        said = last_user_text(body)
        if step == "WRITE_ANSWER":
            return tool_use("Write", {"file_path": "{cwd}/answer.txt", "content": said})
        if step == "WRITE_DENIAL":
            return tool_use("Write", {"file_path": "{cwd}/denial.txt", "content": said})
        return dict(step)


async def play_the_user(swarm, answered: list[str]) -> None:
    """Answer each question as it appears: the database question, then the WebFetch."""
    while len(answered) < 2:
        for question in (await swarm.user.call("list_questions"))["questions"]:
            if question["tool"] == "AskUserQuestion":
                answer = {"decision": "allow", "answers": {QUESTION: "Postgres"}}
            else:
                answer = {"decision": "deny", "message": "use the vendored wheels"}
            await swarm.user.call("answer_question", question_id=question["id"], **answer)
            answered.append(question["tool"])
        await asyncio.sleep(0.2)


async def test_agents_run_commands_unattended_cannot_read_secrets_and_ask_the_user_over_mcp(
    claude_swarm, agents_model
):
    story = Story(claude_swarm)
    agents_model.script = story.script
    main_before = claude_swarm.git("rev-parse", "main")
    key = Path.home() / ".ssh" / "id_ed25519"  # the user's own key, in the test's HOME
    key.parent.mkdir()
    key.write_text("-----BEGIN OPENSSH PRIVATE KEY-----\n")
    (Path.home() / ".netrc").write_text("machine pypi.org password PRIVATE KEY 2\n")
    await claude_swarm.start_launcher()
    run = await claude_swarm.start("Build a calculator.")
    answered: list[str] = []
    user = asyncio.create_task(play_the_user(claude_swarm, answered))
    try:
        await claude_swarm.wait(run, lambda s: done_count(s) == 2, timeout=240)
    finally:
        user.cancel()
    await claude_swarm.wait(run, lambda s: not s["agents"], timeout=60)

    branch = f"heph/{run}"
    assert claude_swarm.git("show", f"{branch}:calc.py") == CALC.replace("a + b", "b + a").strip()
    assert "Postgres" in claude_swarm.git("show", f"{branch}:answer.txt")
    assert "The user denied WebFetch: use the vendored wheels" in claude_swarm.git(
        "show", f"{branch}:denial.txt"
    )
    assert sorted(answered) == ["AskUserQuestion", "WebFetch"]
    results = tool_results(story.latest[WORKER])
    assert "42" in results[0] and "OK" in results[3] and "def add" in results[3]
    assert "calculator with tests" in results[5]  # `git add -A` works inside the sandbox
    probes = "\n".join(results[6:11])
    for secret in (local_token(claude_swarm.settings.secrets_dir, "user"), "heph_agent_",
                   "PRIVATE KEY"):  # fmt: skip
        assert secret not in probes
    assert "No such file or directory" in results[6]
    assert "denied" in results[7] and "denied" in results[8]
    assert "belongs to Hephaestus" in results[9] and "belongs to Hephaestus" in results[10]
    assert "Your task" not in results[9] and "# demo" not in results[10]
    assert claude_swarm.git("rev-parse", "main") == main_before  # no branch but its own moved
    assert claude_swarm.git("symbolic-ref", "HEAD") == "refs/heads/main"
    panes = [f.read_text() for f in claude_swarm.settings.logs_dir.glob("*.log")]
    assert len(panes) == 2
    assert not [line for p in panes for line in p.splitlines() if line.strip() in NO_KEY_TYPED]
    with claude_swarm.db() as db:
        decisions = db.execute("SELECT tool, status, decided_by FROM approvals").fetchall()
    assert ("AskUserQuestion", "allowed", "user") in [tuple(d) for d in decisions]
    assert ("WebFetch", "denied", "user") in [tuple(d) for d in decisions]


def done_count(status: dict[str, Any]) -> int:
    return sum(p["counts"].get("done", 0) for p in status["phases"])


def tool_results(last: dict[str, Any]) -> list[str]:
    """What each of the agent's tool calls returned, in order (from its last request)."""
    results = []
    for message in last["messages"]:
        for block in message.get("content") or []:
            if isinstance(block, dict) and block.get("type") == "tool_result":
                inner = block.get("content")
                results.append(inner if isinstance(inner, str) else json.dumps(inner))
    return results


async def test_a_network_limited_to_a_list_refuses_other_hosts_without_a_dialog(
    project, embedder, agents_model
):
    probe = "import urllib.request as u; u.urlopen('http://example.com/', timeout=10)"
    plan = [bash(f"python3 -c \"{probe}\" 2>&1 | tail -1"),
            mcp("update_task_status", status="done", summary="probed")]  # fmt: skip
    agents_model.script = lambda body: (
        [plan[turns(body)]] if turns(body) < len(plan) else [text("Done.")]
    )
    domains = ["pypi.org", "*.pythonhosted.org"]
    settings = swarm_settings(
        project, agent_cli="claude", agent_command=None, network_allowed_domains=domains
    )
    async with running_swarm(settings, embedder) as swarm:
        await swarm.start_launcher()
        run = await swarm.start("Probe the network.")
        await swarm.wait(run, lambda s: done_count(s) == 1, timeout=120)
        refused = list(swarm.launchers[0][2].gate.refused)
    said = next(last_user_text(r) for r in agents_model.requests if turns(r) == 1)
    assert "403" in said and refused == ["example.com"]
    pane = "\n".join(f.read_text() for f in settings.logs_dir.glob("*.log"))
    assert "Network request outside of sandbox" not in pane
