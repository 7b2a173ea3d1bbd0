"""Agents' approval requests, as their permission hook sends them and as the user answers them.

The hook's side is HTTP (`/hooks/permission-request`, the agent's own token);
the user's side is MCP (`list_questions`, `answer_question`, workflow_status).
"""

from __future__ import annotations

import asyncio
import os
from pathlib import Path
from typing import Any

import pytest
from rich.console import Console

from heph_mcp.commands.status_view import render_status
from heph_mcp.identity import local_token

HOOK = "/hooks/permission-request"
GUARDED = {
    "name": "guarded",
    "description": "a workflow whose policy asks the user about the network",
    "phases": [
        {"id": 1, "name": "look", "description": "look around",
         "approvals": {"rules": [{"tool": "Bash", "match": "docker *", "decision": "deny",
                                  "message": "no docker in this phase"}]}},
    ],
    "config": {"approvals": {"timeout": 1, "rules": [
        {"tool": "WebFetch", "decision": "ask"},
        {"tool": "mcp__other__*", "decision": "allow"},
    ]}},
}  # fmt: skip
QUESTION = {
    "questions": [
        {"question": "Which database should I use?", "header": "DB", "multiSelect": False,
         "options": [{"label": "SQLite", "description": "a file"},
                     {"label": "Postgres", "description": "a server"}]}
    ]
}  # fmt: skip


async def call(client, tool: str, **args: Any) -> Any:
    return (await client.call_tool(tool, args)).structured_content


async def launched(heph, tmp_path: Path, workflow: dict | None = None) -> dict[str, Any]:
    """A run and one agent with a real worktree folder, as the launcher would register it."""
    async with heph.user() as user:
        if workflow:
            await call(user, "register_workflow", definition=workflow)
        run = await call(user, "start_workflow", workflow=(workflow or {}).get("name", "bug_fix"),
                         goal="fix the crash")  # fmt: skip
    worktree = heph.settings.worktrees_dir / f"{run['run_id']}-{run['task_id']}"
    worktree.mkdir(parents=True)
    async with heph.ops() as ops:
        await call(ops, "claim_task", worker="w1", slots=4)
        agent = await call(ops, "register_agent", task_id=run["task_id"], worker="w1",
                           session_name=f"heph-{run['run_id']}-{run['task_id']}", cli="claude",
                           worktree=str(worktree))  # fmt: skip
    return {**run, **agent, "worktree": worktree}


async def ask(heph, agent: dict, tool: str, tool_input: dict, **extra: Any) -> dict[str, Any]:
    body = {"tool_name": tool, "tool_input": tool_input, "cwd": str(agent["worktree"]),
            "sandboxed": True, **extra}  # fmt: skip
    async with heph.server.http_client() as http:
        response = await http.post(HOOK, json=body, headers=bearer(agent["token"]))
    assert response.status_code == 200, response.text
    return response.json()


async def wait(heph, agent: dict, approval_id: str, seconds: float = 10) -> dict[str, Any]:
    async with heph.server.http_client() as http:
        response = await http.get(
            f"{HOOK}/{approval_id}", params={"wait": seconds}, headers=bearer(agent["token"])
        )
    assert response.status_code == 200, response.text
    return response.json()


def rendered(status: dict[str, Any]) -> str:
    console = Console(width=200, record=True)
    console.print(render_status(status))
    return console.export_text()


async def board_questions(heph) -> list[str]:
    token = local_token(heph.settings.secrets_dir, "user")
    async with heph.server.http_client() as http:
        snapshot = (await http.get("/board/api/snapshot", headers=bearer(token))).json()
    return [q["id"] for run in snapshot["runs"] for q in run["questions"]]


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def test_a_sandboxed_shell_command_is_allowed_at_once_and_recorded(heph, tmp_path):
    agent = await launched(heph, tmp_path)
    answer = await ask(heph, agent, "Bash", {"command": "(python3 -m http.server &); sleep 1"})
    assert answer["status"] == "allowed" and answer["decision"] == {"behavior": "allow"}
    row = heph.db().execute("SELECT decided_by, subject FROM approvals").fetchone()
    assert row["decided_by"].startswith("built-in") and row["subject"].startswith("(python3")


@pytest.mark.parametrize(
    "target",
    ["secrets/user.token", "heph.db", "worktrees/someone-else/main.py", "agents/x/brief.md"],
)
async def test_reading_hephaestus_state_is_refused_whatever_the_policy(heph, tmp_path, target):
    agent = await launched(heph, tmp_path)
    path = heph.settings.state_dir / target
    answer = await ask(heph, agent, "Read", {"file_path": str(path)})
    assert answer["decision"]["behavior"] == "deny"
    assert "belongs to Hephaestus" in answer["decision"]["message"]


async def test_a_link_in_the_worktree_does_not_smuggle_a_token_out(heph, tmp_path):
    agent = await launched(heph, tmp_path)
    os.symlink(heph.settings.secrets_dir / "user.token", agent["worktree"] / "innocent.txt")
    answer = await ask(heph, agent, "Read", {"file_path": "innocent.txt"})
    assert answer["decision"]["behavior"] == "deny"
    inside = await ask(heph, agent, "Read", {"file_path": "/usr/lib/os-release"})
    assert inside["decision"] == {"behavior": "allow"}  # outside our state: reading is fine


async def test_edits_outside_the_worktree_are_refused_with_what_to_do(heph, tmp_path):
    agent = await launched(heph, tmp_path)
    answer = await ask(heph, agent, "Write", {"file_path": str(tmp_path / "x.py"), "content": ""})
    assert answer["decision"]["behavior"] == "deny"
    assert "inside your worktree" in answer["decision"]["message"]


async def test_phase_rules_come_before_workflow_rules_and_the_default_denies(heph, tmp_path):
    agent = await launched(heph, tmp_path, GUARDED)
    docker = await ask(heph, agent, "Bash", {"command": "docker run alpine"})
    other = await ask(heph, agent, "mcp__other__lookup", {})
    unknown = await ask(heph, agent, "NotebookRead", {"notebook_path": "nb.ipynb"})
    assert docker["decision"] == {"behavior": "deny", "message": "no docker in this phase"}
    assert other["decision"] == {"behavior": "allow"}
    assert unknown["decision"]["behavior"] == "deny"
    assert "approval policy (default)" in unknown["decision"]["message"]


async def test_a_question_waits_for_the_user_and_the_agent_gets_the_answer(heph, tmp_path):
    agent = await launched(heph, tmp_path)
    asked = await ask(heph, agent, "AskUserQuestion", QUESTION)
    assert asked["status"] == "pending" and asked["decision"] is None
    waiting = asyncio.create_task(wait(heph, agent, asked["id"], seconds=20))
    async with heph.user() as user:
        listed = (await call(user, "list_questions"))["questions"]
        status = await call(user, "workflow_status", run=agent["run_id"])
        assert [q["id"] for q in listed] == [asked["id"]]
        assert status["runs"][0]["questions"][0]["subject"] == "Which database should I use?"
        assert f"Question {asked['id']}" in status["text"]
        assert "Questions for you: 1" in rendered(status)
        assert await board_questions(heph) == [asked["id"]]
        await call(user, "answer_question", question_id=asked["id"], decision="allow",
                   answers={"Which database should I use?": "Postgres"})  # fmt: skip
    answered = await asyncio.wait_for(waiting, 10)
    assert answered["decision"] == {
        "behavior": "allow", "updatedInput": {**QUESTION, "answers": {
            "Which database should I use?": "Postgres"}},
    }  # fmt: skip
    row = heph.db().execute("SELECT status, decided_by FROM approvals").fetchone()
    assert tuple(row) == ("allowed", "user")


async def test_an_unanswered_question_is_denied_at_its_timeout_with_a_message(heph, tmp_path):
    agent = await launched(heph, tmp_path, GUARDED)
    asked = await ask(heph, agent, "WebFetch", {"url": "https://example.com", "prompt": "p"})
    answered = await wait(heph, agent, asked["id"], seconds=10)  # the policy's timeout is 1 s
    assert answered["status"] == "expired"
    assert "No one answered this request within 1s" in answered["decision"]["message"]
    async with heph.user() as user:
        late = await user.call_tool(
            "answer_question", {"question_id": asked["id"], "decision": "allow"},
            raise_on_error=False,
        )  # fmt: skip
    assert late.is_error and "already expired (by timeout)" in late.content[0].text


async def test_the_user_can_deny_with_a_reason_the_agent_reads(heph, tmp_path):
    agent = await launched(heph, tmp_path, GUARDED)
    asked = await ask(heph, agent, "WebFetch", {"url": "https://example.com", "prompt": "p"})
    async with heph.user() as user:
        await call(user, "answer_question", question_id=asked["id"], decision="deny",
                   message="use the vendored copy in third_party/")  # fmt: skip
    answered = await wait(heph, agent, asked["id"], seconds=0)
    assert answered["decision"] == {
        "behavior": "deny", "message": "The user denied WebFetch: use the vendored copy in"
        " third_party/"}  # fmt: skip


async def test_answers_must_name_the_questions_that_were_asked(heph, tmp_path):
    agent = await launched(heph, tmp_path)
    asked = await ask(heph, agent, "AskUserQuestion", QUESTION)
    async with heph.user() as user:
        bare = await user.call_tool(
            "answer_question", {"question_id": asked["id"], "decision": "allow"},
            raise_on_error=False,
        )  # fmt: skip
        wrong = await user.call_tool(
            "answer_question",
            {"question_id": asked["id"], "decision": "allow", "answers": {"Which OS?": "Linux"}},
            raise_on_error=False,
        )
    assert bare.is_error and "pass answers=" in bare.content[0].text
    assert wrong.is_error and "not asked: ['Which OS?']" in wrong.content[0].text
    assert heph.db().execute("SELECT status FROM approvals").fetchone()[0] == "pending"


async def test_an_agents_open_questions_end_with_it(heph, tmp_path):
    agent = await launched(heph, tmp_path)
    asked = await ask(heph, agent, "AskUserQuestion", QUESTION)
    async with heph.ops() as ops:
        await call(ops, "report_agent_exit", agent_id=agent["agent_id"], reason="killed")
    row = heph.db().execute("SELECT status, message FROM approvals WHERE id = ?", (asked["id"],))
    assert tuple(row.fetchone()) == ("cancelled", "the agent ended (killed)")


async def test_only_an_agent_may_ask_and_only_about_its_own_requests(heph, tmp_path):
    agent = await launched(heph, tmp_path)
    body = {"tool_name": "Bash", "tool_input": {"command": "ls"}}
    async with heph.server.http_client() as http:
        anonymous = await http.post(HOOK, json=body)
        as_user = await http.post(
            HOOK, json=body, headers=bearer(local_token(heph.settings.secrets_dir, "user"))
        )
        malformed = await http.post(HOOK, json={"tool_input": 3}, headers=bearer(agent["token"]))
        foreign = await http.get(f"{HOOK}/ap-nope", headers=bearer(agent["token"]))
    assert anonymous.status_code == 401 and as_user.status_code == 403
    assert malformed.status_code == 400 and "tool_name" in malformed.json()["error"]
    assert foreign.status_code == 409 and "no approval request" in foreign.json()["error"]
    assert heph.db().execute("SELECT COUNT(*) FROM approvals").fetchone()[0] == 0


async def test_an_agent_cannot_hear_another_agents_answer(heph, tmp_path):
    first = await launched(heph, tmp_path)
    second = await launched(heph, tmp_path)
    asked = await ask(heph, first, "AskUserQuestion", QUESTION)
    async with heph.server.http_client() as http:
        response = await http.get(f"{HOOK}/{asked['id']}", headers=bearer(second["token"]))
    assert response.status_code == 409 and "of yours" in response.json()["error"]


async def test_answers_are_only_for_questions_and_markup_in_a_request_is_shown_as_text(
    heph, tmp_path
):
    agent = await launched(heph, tmp_path, GUARDED)
    asked = await ask(heph, agent, "WebFetch", {"url": "https://x.test/[/bold]", "prompt": "p"})
    async with heph.user() as user:
        wrong = await user.call_tool(
            "answer_question",
            {"question_id": asked["id"], "decision": "allow", "answers": {"q": "a"}},
            raise_on_error=False,
        )
        status = await call(user, "workflow_status", run=agent["run_id"])
    assert wrong.is_error and "answers are for AskUserQuestion" in wrong.content[0].text
    assert "https://x.test/[/bold]" in rendered(status)


async def test_a_dialog_that_mirrors_a_pending_question_points_to_mcp_not_the_pane(heph, tmp_path):
    agent = await launched(heph, tmp_path)
    asked = await ask(heph, agent, "AskUserQuestion", QUESTION)
    async with heph.ops() as ops:
        label = "blocked on dialog (question): Which database should I use?"
        await call(ops, "record_analysis", agent_id=agent["agent_id"], judge="heuristic",
                   state="blocked_on_dialog", alignment=0.5, summary=label)  # fmt: skip
    async with heph.user() as user:
        status = await call(user, "workflow_status", run=agent["run_id"])
    text = " ".join(rendered(status).split())
    assert f"waiting for your answer to {asked['id']} (AskUserQuestion): answer_question" in text
