"""User tools: workflows, starting, watching and cancelling runs."""

from __future__ import annotations


async def test_list_workflows_names_every_builtin_with_its_phases(heph):
    async with heph.user() as user:
        data = (await user.call_tool("list_workflows", {})).structured_content
    names = {w["name"] for w in data["workflows"]}
    assert {
        "bug_fix",
        "prd_to_software",
        "feature_development",
        "index_repo",
        "documentation",
    } <= names
    bug_fix = next(w for w in data["workflows"] if w["name"] == "bug_fix")
    assert [p["id"] for p in bug_fix["phases"]] == [1, 2, 3]


async def test_start_workflow_creates_a_run_with_one_queued_phase_1_task(heph):
    started = await heph.start_run(goal="the parser crashes on empty input")
    row = (
        heph.db()
        .execute(
            "SELECT run_id, phase, status, title FROM tasks WHERE id = ?", (started["task_id"],)
        )
        .fetchone()
    )
    assert tuple(row) == (
        started["run_id"],
        1,
        "queued",
        "Reproduce: the parser crashes on empty input",
    )
    assert started["workflow"] == "bug_fix"


async def test_launch_parameters_are_substituted_into_the_first_task(heph):
    async with heph.user() as user:
        started = (
            await user.call_tool(
                "start_workflow",
                {
                    "workflow": "prd_to_software",
                    "goal": "build the todo app",
                    "params": {"prd_path": "docs/PRD.md"},
                },
            )
        ).structured_content
    description = (
        heph.db()
        .execute("SELECT description FROM tasks WHERE id = ?", (started["task_id"],))
        .fetchone()[0]
    )
    assert "docs/PRD.md" in description


async def test_a_missing_required_launch_parameter_is_named_and_nothing_is_stored(heph):
    before = heph.snapshot()
    async with heph.user() as user:
        result = await user.call_tool(
            "start_workflow",
            {"workflow": "prd_to_software", "goal": "build it"},
            raise_on_error=False,
        )
    assert result.is_error and "prd_path" in result.content[0].text
    assert heph.snapshot() == before


async def test_workflow_status_gives_readable_text_and_structured_phases(heph):
    started = await heph.start_run()
    async with heph.user() as user:
        result = await user.call_tool("workflow_status", {"run": started["run_id"]})
    text = result.content[0].text
    assert started["run_id"] in text and "Phase 1 reproduce: 1 queued" in text
    run = result.structured_content["runs"][0]
    assert run["phases"][0]["counts"] == {"queued": 1}
    assert [p["name"] for p in run["phases"]] == ["reproduce", "fix", "verify"]


async def test_workflow_status_without_a_run_lists_every_run(heph):
    first, second = await heph.start_run(), await heph.start_run(goal="other bug")
    async with heph.user() as user:
        runs = (await user.call_tool("workflow_status", {})).structured_content["runs"]
    assert [r["run"]["id"] for r in runs] == [first["run_id"], second["run_id"]]


async def test_cancel_workflow_cancels_open_tasks_and_refuses_new_ones(heph):
    started = await heph.start_run()
    async with heph.user() as user:
        cancelled = await user.call_tool("cancel_workflow", {"run": started["run_id"]})
        again = await user.call_tool(
            "cancel_workflow", {"run": started["run_id"]}, raise_on_error=False
        )
        late = await user.call_tool(
            "create_task",
            {"run": started["run_id"], "phase": 1, "title": "t", "description": "d"},
            raise_on_error=False,
        )
    assert cancelled.structured_content["cancelled_tasks"] == 1
    assert again.is_error and "already cancelled" in again.content[0].text
    assert late.is_error and "cancelled" in late.content[0].text
    statuses = {r[0] for r in heph.db().execute("SELECT status FROM tasks")}
    assert statuses == {"cancelled"}


async def test_a_workflow_registered_over_mcp_can_be_started_and_is_stored(heph):
    definition = {
        "name": "triage",
        "description": "look then fix",
        "phases": [
            {"id": 1, "name": "look", "description": "find the cause"},
            {"id": 2, "name": "fix", "description": "fix it"},
        ],
    }
    async with heph.user() as user:
        info = await user.call_tool("register_workflow", {"definition": definition})
        started = await user.call_tool("start_workflow", {"workflow": "triage", "goal": "g"})
    assert info.structured_content["name"] == "triage"
    assert started.structured_content["workflow"] == "triage"
    stored = heph.db().execute("SELECT name FROM workflows").fetchall()
    assert [tuple(r) for r in stored] == [("triage",)]


async def test_an_invalid_workflow_definition_names_the_field(heph):
    definition = {
        "name": "bad",
        "description": "d",
        "phases": [{"id": 1, "name": "a", "description": "x", "done_definitions": "not a list"}],
    }
    async with heph.user() as user:
        result = await user.call_tool(
            "register_workflow", {"definition": definition}, raise_on_error=False
        )
    assert result.is_error
    assert "phases.0.done_definitions" in result.content[0].text


async def test_an_unknown_workflow_lists_the_available_ones(heph):
    async with heph.user() as user:
        result = await user.call_tool(
            "start_workflow", {"workflow": "nope", "goal": "g"}, raise_on_error=False
        )
    assert result.is_error and "bug_fix" in result.content[0].text


async def test_a_registered_workflow_is_offered_again_after_a_restart(settings, serve):
    definition = {
        "name": "triage",
        "description": "d",
        "phases": [{"id": 1, "name": "look", "description": "find the cause"}],
    }
    for step in ("register", "after restart"):
        async with serve(settings) as heph:
            async with heph.user() as user:
                if step == "register":
                    await user.call_tool("register_workflow", {"definition": definition})
                names = {
                    w["name"]
                    for w in (await user.call_tool("list_workflows", {})).structured_content[
                        "workflows"
                    ]
                }
            assert "triage" in names, step
