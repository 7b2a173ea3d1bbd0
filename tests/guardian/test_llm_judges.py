"""LLM judges against loopback doubles of the chat APIs (test doubles for the model only)."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from guardian.llm_judges import AnthropicJudge, OpenAIJudge, make_judge, parse, question
from guardian.observe import Observation
from testkit import serving_app

ANSWER = {
    "state": "drifting",
    "alignment": 0.25,
    "summary": "rewrites the parser in a docs task",
    "steering": "Back to the docs; create an implementation task for the parser.",
}
requests: list[dict] = []


async def openai_chat(request: Request) -> JSONResponse:
    requests.append(await request.json())
    return JSONResponse(
        {
            "id": "c1", "object": "chat.completion", "created": 0, "model": "m",
            "choices": [{"index": 0, "finish_reason": "stop",
                         "message": {"role": "assistant", "content": json.dumps(ANSWER)}}],
            "usage": {"prompt_tokens": 321, "completion_tokens": 45, "total_tokens": 366},
        }
    )  # fmt: skip


async def anthropic_messages(request: Request) -> JSONResponse:
    requests.append(await request.json())
    return JSONResponse(
        {
            "id": "m1", "type": "message", "role": "assistant", "model": "m",
            "content": [{"type": "text", "text": "Verdict:\n" + json.dumps(ANSWER)}],
            "stop_reason": "end_turn", "stop_sequence": None,
            "usage": {"input_tokens": 300, "output_tokens": 40},
        }
    )  # fmt: skip


@pytest.fixture(scope="module")
def base_url() -> Iterator[str]:
    app = Starlette(
        routes=[
            Route("/v1/chat/completions", openai_chat, methods=["POST"]),
            Route("/v1/messages", anthropic_messages, methods=["POST"]),
        ]
    )
    with serving_app(app) as url:
        yield url


def observation() -> Observation:
    return Observation(
        agent_id="a1", task_id="t1", run_id="r1", phase="write", task_title="Document the CLI",
        session="s", worktree="/wt", new_lines=["editing src/parser.py"], tail=[],
        unchanged_cycles=0, at_prompt=False, busy=True, previous_summary="was reading docs",
    )  # fmt: skip


async def test_an_openai_compatible_judge_returns_the_verdict_and_its_token_counts(base_url):
    verdict = await OpenAIJudge("m", "k", base_url + "/v1").judge(observation())
    assert (verdict.state, verdict.alignment, verdict.tokens_in, verdict.tokens_out) == (
        "drifting", 0.25, 321, 45,
    )  # fmt: skip
    assert verdict.steering and "implementation task" in verdict.steering
    sent = requests[-1]["messages"][1]["content"]
    assert "editing src/parser.py" in sent and "was reading docs" in sent


async def test_an_anthropic_judge_reads_json_after_prose(base_url):
    verdict = await AnthropicJudge("m", "k", base_url).judge(observation())
    assert (verdict.state, verdict.tokens_in, verdict.tokens_out) == ("drifting", 300, 40)


def test_a_malformed_answer_never_steers():
    verdict = parse("I think it is fine {not json", 10, 5)
    assert verdict.steering is None and verdict.state == "exploring"
    assert parse('{"state": "dancing", "alignment": "x"}', 1, 1).alignment == 0.5


def test_the_question_carries_only_new_output():
    obs = observation()
    obs.tail = ["old line that must not be resent"]
    assert "old line" not in question(obs)


def test_an_unknown_judge_kind_says_what_is_allowed():
    with pytest.raises(ValueError, match="choose auto, heuristic"):
        make_judge("gpt", None, None, None)
    assert make_judge("heuristic", None, None, None) is None
