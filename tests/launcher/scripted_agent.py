"""A scripted test agent: a small MCP client the launcher starts through the custom-CLI template.

It stands in for the LLM-driven CLI (a test double for the model only): it
reads its brief file and MCP config exactly as a real CLI would, then follows
the JSON script embedded in its task description between `<<script` and
`script>>`. Steps:

  {"write": PATH, "text": TEXT}        write a file in the worktree
  {"commit": MESSAGE}                  git add -A && git commit
  {"create_task": {...}}               call create_task with these arguments
  {"copy_description": PATH}           write the task description, verbatim, to PATH
  {"copy_brief": PATH}                 copy the brief file, verbatim, to PATH
  {"wait_file": PATH}                  wait until PATH exists (absolute path)
  {"hang_on_attempt": N}               on attempt N, hang (until killed)
  {"exit": CODE}                       exit without reporting
  {"merge_run_branch": true}           merge heph/<run>, resolving conflicts by keeping both sides
  {"repeat_error": TEXT, "times": N}   print the same error line N times
  {"sleep": SECONDS}                   stall without output
  {"call_and_show": TOOL}              call a tool without arguments and print its result
  {"call": TOOL, "args": {...}, "save_as": NAME}
                                       call a tool; an argument "$NAME.field" (also inside
                                       lists) is a field of an earlier saved result, and
                                       "$task.field" one of this agent's own task
  {"idle_prompt": true}                print a ">" prompt; a typed guidance command shows it
  {"show": PATH}                       print a file verbatim (a captured dialog: follow it with
                                       wait_file to sit on it like a CLI waiting for an answer;
                                       the terminal echoes anything typed meanwhile)
  {"when_feedback": [STEPS]}           run these steps only when a validator sent the task back
  {"submit_result": MARKDOWN, "evidence": [TEXT...]}
                                       submit the run's result (evidence is optional)
  {"wait_parent_merged": true}         wait until the task that created this one has its merge
                                       outcome (merged or nothing); report failed on any other
  {"probe": [PATHS], "report_to": PATH}
                                       what this agent can see of each path (a file's first
                                       bytes, a folder's entries, or the error), as JSON
  {"tamper": PATH}                     try to overwrite PATH; print whether it worked
  {"review_file": PATH, "expect": TEXT}
                                       as a validator: pass when PATH contains TEXT
  {"review": true|false}               as a validator: give this verdict
  {"review_command": [ARGV...]}        as a validator: run the command in the worktree; pass
                                       when it exits 0, with its output as the evidence
  {"expect_file": PATH, "contains": TEXT}
                                       the work this task builds on must be here: report the
                                       task failed, saying what was seen, when PATH is missing
                                       or lacks TEXT
  {"run": [ARGV...]}                   run a command in the worktree and print its output
  {"done": SUMMARY} / {"fail": REASON} report the task

"$self" in create_task arguments stands for the agent's own task id. A
validator's script is the last one in its description (the checked task's
own script is quoted above it). With no script, a "Resolve merge conflict"
task merges the run branch; any task then reports done. After reporting it
idles like an interactive CLI.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import re
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from fastmcp import Client

SCRIPT = re.compile(r"<<script\s*(.*)\s*script>>", re.DOTALL)  # greedy: scripts nest


def say(text: str) -> None:
    print(f"[scripted-agent] {text}", flush=True)


def git(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["git", *args], capture_output=True, text=True, check=False)


def merge_run_branch(run_id: str) -> None:
    """Merge the run's branch; on conflict keep both sides of every file, ours first."""
    if git("merge", "--no-edit", f"heph/{run_id}").returncode == 0:
        return
    conflicted = git("diff", "--name-only", "--diff-filter=U").stdout.split()
    for path in conflicted:
        ours = git("show", f":2:{path}").stdout
        theirs = git("show", f":3:{path}").stdout
        Path(path).write_text(ours + theirs)
        git("add", path)
    result = git("commit", "--no-edit", "-q")
    say(f"resolved {conflicted}: {result.returncode} {result.stderr.strip()}")


async def call(client: Client, tool: str, **args: Any) -> dict[str, Any]:
    result = await client.call_tool(tool, args)
    return result.structured_content or {}


def substitute(value: Any, saved: dict[str, dict[str, Any]]) -> Any:
    """Replace "$NAME.field" strings (at any depth of lists and dicts) with saved values."""
    if isinstance(value, str) and value.startswith("$") and "." in value:
        name, field = value[1:].split(".", 1)
        return saved[name][field]
    if isinstance(value, list):
        return [substitute(v, saved) for v in value]
    if isinstance(value, dict):
        return {k: substitute(v, saved) for k, v in value.items()}
    return value


async def run_step(
    client: Client,
    step: dict[str, Any],
    task: dict[str, Any],
    brief: Path,
    saved: dict[str, dict[str, Any]],
) -> bool:
    """Do one step; True when the task has been reported."""
    if "call" in step:
        answer = await call(client, step["call"], **substitute(step.get("args", {}), saved))
        saved[step.get("save_as", step["call"])] = answer
        say(f"{step['call']} -> {answer.get('id')} ({answer.get('status')})")
    elif "write" in step:
        Path(step["write"]).parent.mkdir(parents=True, exist_ok=True)
        Path(step["write"]).write_text(step["text"])
    elif "commit" in step:
        git("add", "-A")
        result = git("commit", "-q", "-m", step["commit"])
        say(f"commit: {result.returncode} {result.stderr.strip()}")
    elif "create_task" in step:
        args = json.loads(
            json.dumps(step["create_task"]).replace('"$self"', json.dumps(task["id"]))
        )
        created = await call(client, "create_task", **args)
        say(f"created {created.get('id')} ({created.get('status')})")
    elif "copy_description" in step:
        Path(step["copy_description"]).write_text(task["description"])
    elif "copy_brief" in step:
        Path(step["copy_brief"]).write_text(brief.read_text())
    elif "wait_file" in step:
        while not Path(step["wait_file"]).exists():
            await asyncio.sleep(0.1)
    elif "hang_on_attempt" in step:
        if task["attempts"] == step["hang_on_attempt"]:
            say(f"hanging on attempt {task['attempts']}")
            await asyncio.sleep(3600)
    elif "exit" in step:
        say(f"exiting with {step['exit']} without reporting")
        sys.exit(int(step["exit"]))
    elif "repeat_error" in step:
        for _ in range(step.get("times", 3)):
            print(step["repeat_error"], flush=True)
            await asyncio.sleep(step.get("every", 0.2))
    elif "sleep" in step:
        await asyncio.sleep(step["sleep"])
    elif "call_and_show" in step:
        shown = await client.call_tool(step["call_and_show"], {})
        for block in shown.content:
            say(f"tool result: {getattr(block, 'text', '')}")
    elif "idle_prompt" in step:
        await idle_prompt(client)
    elif "show" in step:
        print(Path(step["show"]).read_text(), end="", flush=True)
    elif "merge_run_branch" in step:
        merge_run_branch(task["run_id"])
    elif "when_feedback" in step:
        for inner in step["when_feedback"] if task.get("feedback") else []:
            await run_step(client, inner, task, brief, saved)
    elif "submit_result" in step:
        result = await call(
            client, "submit_result", markdown=step["submit_result"],
            evidence=step.get("evidence", []),
        )  # fmt: skip
        say(f"submitted result {result.get('id')}")
    elif "wait_parent_merged" in step:
        outcome = await wait_merged(client, task["parent_task_id"])
        if outcome not in ("merged", "nothing"):
            reason = f"the work I verify ({task['parent_task_id']}) did not land: {outcome}"
            await call(client, "update_task_status", status="failed", summary=reason)
            return True
    elif "review_command" in step:
        await review_command(client, step["review_command"])
        return True
    elif "probe" in step:
        seen = {path: probe(Path(path)) for path in step["probe"]}
        Path(step["report_to"]).write_text(json.dumps(seen, indent=2))
    elif "tamper" in step:
        try:
            Path(step["tamper"]).write_text("tampered\n")
            say(f"tampered with {step['tamper']}")
        except OSError as exc:
            say(f"could not tamper with {step['tamper']}: {exc}")
    elif "review_file" in step:
        await review_file(client, Path(step["review_file"]), step["expect"])
        return True
    elif "review" in step:
        await call(client, "give_validation_review", passed=step["review"], feedback="scripted")
        return True
    elif "expect_file" in step:
        seen = expect_file(Path(step["expect_file"]), step.get("contains", ""))
        if seen is not None:
            await call(client, "update_task_status", status="failed", summary=seen)
            return True
        say(f"{step['expect_file']} holds what was expected")
    elif "run" in step:
        done = subprocess.run(step["run"], capture_output=True, text=True, check=False)
        say(f"ran {step['run']}: exit {done.returncode}\n{done.stdout}{done.stderr}")
    elif "done" in step or "fail" in step:
        status, text = ("done", step["done"]) if "done" in step else ("failed", step["fail"])
        await call(client, "update_task_status", status=status, summary=text)
        return True
    return False


def probe(path: Path) -> str | list[str]:
    """What a process in this agent's place sees at `path`."""
    try:
        if path.is_dir():
            return sorted(entry.name for entry in path.iterdir())
        return "read: " + path.read_text()[:40]
    except OSError as exc:
        return f"unreadable: {exc.strerror}"


def expect_file(path: Path, text: str) -> str | None:
    """None when `path` holds `text`; else what was seen instead, for the failure report."""
    if not path.is_file():
        present = sorted(p.name for p in Path(".").iterdir() if p.name != ".git")
        return f"expected {path} in my worktree; it is missing (present: {present})"
    content = path.read_text()
    if text not in content:
        return f"expected {path} to contain {text!r}; it says {content!r}"
    return None


async def review_file(client: Client, path: Path, expect: str) -> None:
    """Judge a file of the checked work; the evidence shows its content and mode."""
    content = path.read_text() if path.is_file() else ""
    mode = path.stat().st_mode & 0o777 if path.is_file() else 0
    passed = expect in content
    feedback = "as expected" if passed else f"{path} says {content!r}; it must say {expect!r}"
    verdict = await call(
        client, "give_validation_review", passed=passed, feedback=feedback,
        evidence=[f"{path} mode {mode:o}: {content!r}"],
    )  # fmt: skip
    say(f"reviewed: {verdict.get('outcome')}")


async def wait_merged(client: Client, task_id: str) -> str:
    """Poll a task until its merge has an outcome; the test's own deadline bounds the wait."""
    while True:
        state = (await call(client, "get_task", task_id=task_id)).get("merge_state")
        if state in ("merged", "nothing", "conflict", "verify_failed"):
            say(f"{task_id} merge: {state}")
            return str(state)
        await asyncio.sleep(0.2)


async def review_command(client: Client, argv: list[str]) -> None:
    """Judge by a command's exit status, as a validator running the check itself would."""
    done = subprocess.run(argv, capture_output=True, text=True, check=False, timeout=60)
    output = (done.stdout + done.stderr).strip()
    passed = done.returncode == 0
    verdict = await call(
        client, "give_validation_review", passed=passed,
        feedback=f"{' '.join(argv)} exited {done.returncode}",
        evidence=[f"$ {' '.join(argv)}", f"exit {done.returncode}: {output[-500:]}"],
    )  # fmt: skip
    say(f"reviewed by command: {verdict.get('outcome')}")


async def idle_prompt(client: Client) -> None:
    """Sit at a prompt like an interactive CLI; a typed guidance command fetches that prompt."""
    print(">", flush=True)
    line = (await asyncio.to_thread(sys.stdin.readline)).strip()
    say(f"typed: {line}")
    if line == "/mcp__hephaestus__guidance":
        result = await client.get_prompt("guidance", {})
        for message in result.messages:
            print(f"GUIDANCE: {getattr(message.content, 'text', '')}", flush=True)


def script_of(task: dict[str, Any]) -> list[dict[str, Any]]:
    text = task["description"]
    if task.get("kind", "work") != "work":
        text = text[max(text.rfind("<<script"), 0) :]
    found = SCRIPT.search(text)
    if found:
        return list(json.loads(found.group(1)))
    if task["title"].startswith("Resolve merge conflict"):
        return [{"merge_run_branch": True}]
    return []


async def main(brief: Path, mcp_config: Path) -> None:
    started = time.time()
    server = json.loads(mcp_config.read_text())["mcpServers"]["hephaestus"]
    token = server["headers"]["Authorization"].removeprefix("Bearer ")
    async with Client(server["url"], auth=token) as client:
        me = await call(client, "whoami")
        task = await call(client, "get_task", task_id=me["task_id"])
        say(
            f"task {task['id']} attempt {task['attempts']} (booted in {time.time() - started:.2f}s)"
        )
        reported = False
        saved: dict[str, dict[str, Any]] = {"task": task}
        for step in script_of(task):
            if await run_step(client, step, task, brief, saved):
                reported = True
                break
        if not reported:
            await call(client, "update_task_status", status="done", summary="script finished")
    say("reported; idle until the launcher ends this session")
    await asyncio.sleep(3600)


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--brief", type=Path, required=True)
    parser.add_argument("--mcp-config", type=Path, required=True)
    args = parser.parse_args()
    asyncio.run(main(args.brief, args.mcp_config))
