"""LLM judges: the same question and answer format over four backends.

The model sees the task, its phase, the judge's own earlier summary and only
the agent's new output (never the whole pane), and answers with one JSON
object. Tokens in and out are counted from each backend's own usage report.
"""

from __future__ import annotations

import asyncio
import json
import re
import shutil
import tempfile
from typing import Any

from guardian.judges import Verdict
from guardian.observe import Observation

STATES = (
    "exploring", "implementing", "verifying", "stuck", "drifting", "looping", "idle",
    "finished_unreported",
)  # fmt: skip
SYSTEM = (
    "You watch one AI coding agent of a swarm and judge its trajectory against its task and "
    "phase. Answer with ONE JSON object and nothing else: "
    '{"state": one of ' + ", ".join(STATES) + ', "alignment": 0..1, "summary": "<=2 sentences '
    'to carry into your next look", "steering": "a short instruction to the agent, or null"}. '
    "Steer only when the agent drifts from its phase, loops, stalls or forgets to report."
)
MAX_NEW_LINES = 120


def question(obs: Observation) -> str:
    new = (obs.unjudged or obs.new_lines)[-MAX_NEW_LINES:]
    return "\n".join(
        [
            f"Task: {obs.task_title}",
            f"Phase: {obs.phase}",
            f"Files it changed: {', '.join(obs.changed_files[:20]) or 'none'}",
            f"Your previous summary: {obs.previous_summary or 'none (first look)'}",
            f"New output since your last look ({len(new)} lines):",
            *new,
        ]
    )


def parse(text: str, tokens_in: int, tokens_out: int) -> Verdict:
    """Read the JSON answer; a malformed one becomes a neutral verdict, never a steer."""
    found = re.search(r"\{.*\}", text, re.DOTALL)
    try:
        data: dict[str, Any] = json.loads(found.group(0)) if found else {}
    except json.JSONDecodeError:
        data = {}
    state = data.get("state") if data.get("state") in STATES else "exploring"
    try:
        alignment = min(1.0, max(0.0, float(data.get("alignment", 0.5))))
    except (TypeError, ValueError):
        alignment = 0.5
    steering = data.get("steering") or None
    return Verdict(
        str(state), alignment, str(data.get("summary") or "unparsed judge answer")[:1000],
        steering=str(steering)[:2000] if steering else None,
        tokens_in=tokens_in, tokens_out=tokens_out,
    )  # fmt: skip


class OpenAIJudge:
    """OpenAI or any OpenAI-compatible endpoint (OpenRouter, Cerebras, a local vLLM)."""

    name = "openai"

    def __init__(self, model: str, api_key: str | None, base_url: str | None = None):
        from openai import AsyncOpenAI

        self.model = model
        self._client = AsyncOpenAI(api_key=api_key or "none", base_url=base_url)

    async def judge(self, observation: Observation) -> Verdict:
        response = await self._client.chat.completions.create(
            model=self.model,
            messages=[
                {"role": "system", "content": SYSTEM},
                {"role": "user", "content": question(observation)},
            ],
        )
        usage = response.usage
        text = response.choices[0].message.content or ""
        return parse(
            text, usage.prompt_tokens if usage else 0, usage.completion_tokens if usage else 0
        )


class AnthropicJudge:
    name = "anthropic"

    def __init__(self, model: str, api_key: str | None, base_url: str | None = None):
        from anthropic import AsyncAnthropic

        self.model = model
        self._client = AsyncAnthropic(api_key=api_key, base_url=base_url)

    async def judge(self, observation: Observation) -> Verdict:
        message = await self._client.messages.create(
            model=self.model,
            max_tokens=400,
            system=SYSTEM,
            messages=[{"role": "user", "content": question(observation)}],
        )
        text = "".join(getattr(block, "text", "") for block in message.content)
        return parse(text, message.usage.input_tokens, message.usage.output_tokens)


class ClaudeHeadlessJudge:
    """`claude -p` with the user's existing Claude Code login: no API key needed."""

    name = "claude-headless"

    def __init__(self, model: str | None = None, binary: str = "claude"):
        self.model = model
        self.binary = binary
        # An empty folder of its own: run in the project, `claude -p` would add the
        # repository's git status and CLAUDE.md to every judgement (tokens, and leakage).
        self.workdir = tempfile.mkdtemp(prefix="heph-judge-")

    async def judge(self, observation: Observation) -> Verdict:
        argv = [self.binary, "-p", "--output-format", "json", "--append-system-prompt", SYSTEM]
        argv += ["--model", self.model] if self.model else []
        process = await asyncio.create_subprocess_exec(
            *argv,
            cwd=self.workdir,
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )
        out, _ = await process.communicate(question(observation).encode())
        try:
            answer = json.loads(out.decode() or "{}")
        except json.JSONDecodeError:
            answer = {"result": out.decode()}
        usage = answer.get("usage") or {}
        keys = ("input_tokens", "cache_creation_input_tokens", "cache_read_input_tokens")
        tokens_in = sum(int(usage.get(k) or 0) for k in keys)
        verdict = parse(
            str(answer.get("result", "")), tokens_in, int(usage.get("output_tokens") or 0)
        )
        # Without --model it is the user's default: the answer names it (for its price).
        verdict.model = self.model or next(iter(answer.get("modelUsage") or {}), "")
        return verdict


def make_judge(
    kind: str, model: str | None, api_key: str | None, base_url: str | None
) -> OpenAIJudge | AnthropicJudge | ClaudeHeadlessJudge | None:
    """The configured LLM judge; `auto` picks Claude Code headless when `claude` is installed
    and no API key is set, else none (heuristics only)."""
    if kind == "auto":
        kind = "claude" if shutil.which("claude") and not api_key else "heuristic"
    if kind == "heuristic":
        return None
    if kind == "claude":
        return ClaudeHeadlessJudge(model)
    if kind == "anthropic":
        return AnthropicJudge(model or "claude-haiku-4-5", api_key, base_url)
    if kind == "openai":
        return OpenAIJudge(model or "gpt-4o-mini", api_key, base_url)
    raise ValueError(f"unknown judge {kind!r}; choose auto, heuristic, claude, anthropic or openai")
