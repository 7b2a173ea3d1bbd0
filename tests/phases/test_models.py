"""Workflow model rules: phases 1..n, unique names, first-task rendering."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from phases import LaunchParameter, Phase, Verify, Workflow, WorkflowConfig


def _workflow(**config) -> Workflow:
    return Workflow(
        name="w",
        description="d",
        phases=[
            Phase(id=1, name="look", description="x"),
            Phase(id=2, name="fix", description="y"),
        ],
        config=WorkflowConfig(**config),
    )


def test_phase_ids_must_run_from_1_without_gaps():
    with pytest.raises(ValidationError, match=r"phase ids must be 1..2 in order, got \[1, 3\]"):
        Workflow(
            name="w",
            description="d",
            phases=[Phase(id=1, name="a", description="x"), Phase(id=3, name="b", description="y")],
        )


def test_phase_names_must_be_unique():
    with pytest.raises(ValidationError, match="phase names must be unique"):
        Workflow(
            name="w",
            description="d",
            phases=[Phase(id=1, name="a", description="x"), Phase(id=2, name="a", description="y")],
        )


def test_a_phase_is_found_by_id_name_or_numeric_string():
    workflow = _workflow()
    assert workflow.phase(2).name == workflow.phase("fix").name == workflow.phase("2").name


def test_an_unknown_phase_lists_the_phases_that_exist():
    with pytest.raises(KeyError, match=r"phases are 1 \(look\), 2 \(fix\)"):
        _workflow().phase("deploy")


def test_launch_parameters_and_the_goal_fill_the_first_task():
    workflow = _workflow(
        launch_parameters=[
            LaunchParameter(name="repo", required=True),
            LaunchParameter(name="branch", default="main"),
        ]
    )
    workflow = workflow.model_copy(
        update={
            "first_task": workflow.first_task.model_copy(
                update={"description": "{goal} in {repo}@{branch}, keep {braces}"}
            )
        }
    )
    title, description = workflow.render_first_task("fix it", {"repo": "api"})
    assert (title, description) == ("fix it", "fix it in api@main, keep {braces}")


def test_a_missing_required_parameter_is_named():
    workflow = _workflow(launch_parameters=[LaunchParameter(name="repo", required=True)])
    with pytest.raises(ValueError, match="needs launch parameter 'repo'"):
        workflow.render_first_task("g", {})


def test_an_unknown_parameter_is_refused_with_the_allowed_ones():
    with pytest.raises(ValueError, match=r"unknown launch parameters \['x'\]; allowed: none"):
        _workflow().render_first_task("g", {"x": "1"})


def test_unknown_keys_are_errors_not_silently_ignored():
    with pytest.raises(ValidationError, match="done_definition"):
        Phase(id=1, name="a", description="x", done_definition=["typo"])


def test_an_unknown_phase_id_is_a_key_error_too():
    with pytest.raises(KeyError, match="has no phase 7"):
        _workflow().phase(7)


def test_an_unknown_parameter_lists_the_allowed_ones():
    workflow = _workflow(launch_parameters=[LaunchParameter(name="repo")])
    with pytest.raises(
        ValueError, match=r"unknown launch parameters \['rpeo'\]; allowed: \['repo'\]"
    ):
        workflow.render_first_task("g", {"rpeo": "api"})


def test_workflows_are_frozen_so_a_shared_registry_cannot_be_changed_by_accident():
    with pytest.raises(ValidationError, match="frozen"):
        _workflow().name = "other"  # type: ignore[misc]


def test_a_phase_verify_replaces_the_workflows_and_a_bare_string_is_its_command():
    workflow = Workflow.model_validate(
        {
            "name": "w",
            "description": "d",
            "phases": [
                {"id": 1, "name": "look", "description": "x"},
                {"id": 2, "name": "fix", "description": "y",
                 "verify": {"command": "make check", "timeout": 30, "on_fail": "fix_task"}},
            ],
            "config": {"verify": "pytest -q"},
        }
    )  # fmt: skip
    assert workflow.verify_for(1) == Verify(command="pytest -q")
    own = workflow.verify_for("fix")
    assert own == Verify(command="make check", timeout=30, on_fail="fix_task")
    assert (workflow.verify_for(1).timeout, workflow.verify_for(1).on_fail) == (600, "needs_work")
    assert _workflow().verify_for(1) is None


@pytest.mark.parametrize(
    "verify,message",
    [
        ({"command": "  "}, "the verify command must not be blank"),
        ({"command": "true", "timeout": 0}, "greater than 0"),
        ({"command": "true", "on_fail": "ignore"}, "'needs_work' or 'fix_task'"),
        ({"comand": "true"}, "Extra inputs are not permitted"),
    ],
)
def test_a_bad_verify_spec_says_what_is_wrong(verify, message):
    with pytest.raises(ValidationError, match=message):
        WorkflowConfig(verify=verify)
