"""Typed launch parameters over MCP: list_workflows describes them so a host can ask the user,
start_workflow checks them and keeps each value in its type."""

from __future__ import annotations

from typing import Any

import pytest

TYPED = {
    "name": "audit",
    "description": "audit a package",
    "phases": [{"id": 1, "name": "look", "description": "look at it"}],
    "config": {
        "launch_parameters": [
            {"name": "package", "type": "path", "required": True, "description": "What to audit"},
            {"name": "depth", "type": "integer", "default": 2, "minimum": 1, "maximum": 5},
            {
                "name": "mode",
                "type": "choice",
                "options": ["quick", "thorough"],
                "default": "quick",
            },
            {"name": "note", "description": "anything else"},
        ]
    },
    "first_task": {"title": "Audit {package}", "description": "{goal}: {mode} at depth {depth}"},
}


async def _register(heph) -> None:
    async with heph.user() as user:
        await user.call_tool("register_workflow", {"definition": TYPED})


async def _start(heph, params: dict[str, Any]):
    async with heph.user() as user:
        return await user.call_tool(
            "start_workflow",
            {"workflow": "audit", "goal": "check it", "params": params},
            raise_on_error=False,
        )


async def test_list_workflows_gives_each_parameter_its_type_options_and_default(heph):
    await _register(heph)
    async with heph.user() as user:
        listed = (await user.call_tool("list_workflows", {})).structured_content["workflows"]
    params = {p["name"]: p for p in next(w for w in listed if w["name"] == "audit")[
        "launch_parameters"]}  # fmt: skip
    assert params["package"]["type"] == "path" and params["package"]["required"] is True
    assert (params["depth"]["type"], params["depth"]["default"]) == ("integer", 2)
    assert (params["depth"]["minimum"], params["depth"]["maximum"]) == (1, 5)
    assert params["mode"]["options"] == ["quick", "thorough"]
    assert params["note"]["type"] == "string"  # untyped parameters stay plain text
    prd = next(w for w in listed if w["name"] == "prd_to_software")["launch_parameters"]
    assert [(p["name"], p["type"], p["required"]) for p in prd] == [("prd_path", "path", True)]


async def test_a_run_keeps_each_value_in_its_type_with_defaults_filled_in(heph):
    await _register(heph)
    started = await _start(heph, {"package": "src/pkg", "depth": "4"})
    assert not started.is_error, started.content
    async with heph.user() as user:
        status = await user.call_tool(
            "workflow_status", {"run": started.structured_content["run_id"]}
        )
    run = status.structured_content["runs"][0]["run"]
    assert run["params"] == {"package": "src/pkg", "depth": 4, "mode": "quick"}
    task = run_task(heph, started.structured_content["task_id"])
    assert task == ("Audit src/pkg", "check it: quick at depth 4")


async def test_an_integer_given_as_a_number_is_accepted(heph):
    await _register(heph)
    started = await _start(heph, {"package": "pkg", "depth": 5, "mode": "thorough"})
    assert not started.is_error, started.content
    assert run_task(heph, started.structured_content["task_id"])[1].endswith("thorough at depth 5")


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"package": "pkg", "depth": "deep"}, "'depth' must be a whole number, got 'deep'"),
        ({"package": "pkg", "depth": 9}, "'depth' must be <= 5, got 9"),
        ({"package": "pkg", "mode": "slow"}, "'mode' must be one of quick, thorough; got 'slow'"),
        ({"package": "../../etc/passwd"}, "'package': '../../etc/passwd' leaves the project"),
        ({"package": "   "}, "'package' must be a path on one line"),
        ({"package": "pkg", "note": 7}, "'note' must be text, got 7"),
        ({"depth": 3}, "needs launch parameter 'package'"),
        ({"package": "pkg", "colour": "red"}, "unknown launch parameters ['colour']"),
    ],
)
async def test_a_wrong_parameter_is_refused_with_what_is_allowed_and_nothing_stored(
    heph, params, message
):
    await _register(heph)
    before = heph.snapshot()
    refused = await _start(heph, params)
    assert refused.is_error and message in refused.content[0].text
    assert heph.snapshot() == before


async def test_every_problem_is_named_at_once(heph):
    await _register(heph)
    refused = await _start(heph, {"depth": 0, "mode": "fast"})
    text = refused.content[0].text
    assert "'depth' must be >= 1" in text and "'mode' must be one of" in text
    assert "needs launch parameter 'package'" in text


@pytest.mark.parametrize(
    ("parameter", "message"),
    [
        ({"name": "mode", "type": "choice"}, "choice parameter 'mode' needs its options"),
        ({"name": "n", "type": "integer", "default": "many"}, "'n' must be a whole number"),
        ({"name": "n", "type": "string", "options": ["a"]}, "options are for choice parameters"),
        ({"name": "n", "type": "float"}, "config.launch_parameters.0.type"),
    ],
)
async def test_a_parameter_definition_that_contradicts_itself_is_refused(heph, parameter, message):
    definition = {**TYPED, "config": {"launch_parameters": [parameter]}}
    async with heph.user() as user:
        result = await user.call_tool(
            "register_workflow", {"definition": definition}, raise_on_error=False
        )
    assert result.is_error and message in result.content[0].text


def run_task(heph, task_id: str) -> tuple[str, str]:
    row = heph.db().execute("SELECT title, description FROM tasks WHERE id = ?", (task_id,))
    return tuple(row.fetchone())  # type: ignore[return-value]
