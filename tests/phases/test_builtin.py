"""The shipped workflows load and say what agents need."""

from __future__ import annotations

import re

import pytest

from phases import WorkflowRegistry, builtin_workflows

EXPECTED = {
    "bug_fix": ["reproduce", "fix", "verify"],
    "crackme_solving": ["reconnaissance", "analysis", "solving", "verification"],
    "documentation": ["audit", "write", "review"],
    "feature_development": ["design", "implement", "test"],
    "index_repo": ["survey", "document_area"],
    "prd_to_software": ["requirements", "implement", "validate"],
}
BUILTINS = builtin_workflows()


def test_every_builtin_workflow_loads_with_its_phases():
    assert {w.name: [p.name for p in w.phases] for w in BUILTINS} == EXPECTED


@pytest.mark.parametrize("workflow", BUILTINS, ids=lambda w: w.name)
def test_every_builtin_has_phases_numbered_1_to_n(workflow):
    assert [p.id for p in workflow.phases] == list(range(1, len(workflow.phases) + 1))


@pytest.mark.parametrize("workflow", BUILTINS, ids=lambda w: w.name)
def test_every_builtin_phase_tells_an_agent_what_to_do_and_when_it_is_done(workflow):
    for phase in workflow.phases:
        assert phase.description.strip(), phase.name
        assert len(phase.done_definitions) >= 2, phase.name
        assert phase.next_steps and phase.additional_notes.strip(), phase.name


@pytest.mark.parametrize("workflow", BUILTINS, ids=lambda w: w.name)
def test_every_builtin_tells_agents_they_may_create_tasks_in_any_phase(workflow):
    text = " ".join(p.additional_notes + " ".join(p.next_steps) for p in workflow.phases)
    assert "ANY phase" in text
    assert all("worktree" in p.additional_notes for p in workflow.phases)


@pytest.mark.parametrize("workflow", BUILTINS, ids=lambda w: w.name)
def test_every_builtin_runs_a_small_swarm(workflow):
    assert 2 <= workflow.config.max_concurrent_agents <= 4


@pytest.mark.parametrize("workflow", BUILTINS, ids=lambda w: w.name)
def test_every_builtin_first_task_fills_all_its_placeholders(workflow):
    params = {p.name: f"<{p.name}>" for p in workflow.config.launch_parameters}
    title, description = workflow.render_first_task("the goal", params)
    assert not re.search(r"\{\w+\}", title + description)
    assert "the goal" in title + description


@pytest.mark.parametrize("workflow", BUILTINS, ids=lambda w: w.name)
def test_next_steps_only_point_at_phases_that_exist(workflow):
    for phase in workflow.phases:
        text = " ".join(phase.next_steps + phase.done_definitions + [phase.additional_notes])
        for number in re.findall(r"phase-(\d+)", text):
            assert 1 <= int(number) <= len(workflow.phases), (phase.name, number)


def test_bug_fix_validates_the_fix_with_criteria():
    fix = WorkflowRegistry.with_builtins().get("bug_fix").phase("fix")
    assert fix.validation.enabled and len(fix.validation.criteria) >= 2


def test_prd_to_software_needs_the_prd_path_and_produces_a_result():
    workflow = WorkflowRegistry.with_builtins().get("prd_to_software")
    assert workflow.config.has_result and workflow.config.result_criteria
    assert workflow.config.enable_tickets
    _, description = workflow.render_first_task("todo app", {"prd_path": "docs/PRD.md"})
    assert "docs/PRD.md" in description and "todo app" in description
    with pytest.raises(ValueError, match="needs launch parameter 'prd_path'"):
        workflow.render_first_task("todo app", {})


def test_extra_workflow_files_override_builtins_of_the_same_name(tmp_path):
    (tmp_path / "bug_fix.yaml").write_text(
        "name: bug_fix\ndescription: mine\nphases:\n  - {id: 1, name: only, description: x}\n"
    )
    registry = WorkflowRegistry.with_builtins([tmp_path])
    assert registry.get("bug_fix").description == "mine"
    assert "documentation" in registry and registry.names() == sorted(EXPECTED)


def test_an_unknown_workflow_name_lists_the_available_ones():
    with pytest.raises(
        KeyError, match="no workflow 'nope'; available: bug_fix, crackme_solving, documentation"
    ):
        WorkflowRegistry.with_builtins().get("nope")


def test_adding_without_replace_refuses_an_existing_name():
    registry = WorkflowRegistry(BUILTINS)
    with pytest.raises(ValueError, match="'bug_fix' already exists"):
        registry.add(BUILTINS[0], replace=False)
    assert [w.name for w in registry.all()] == sorted(EXPECTED)


def test_bug_fix_ends_with_a_verified_result_that_stops_the_run():
    config = WorkflowRegistry.with_builtins().get("bug_fix").config
    assert config.has_result and config.on_result_found == "stop_all"
    assert config.result_criteria == [
        "The bug is fixed and verified: it cannot be reproduced and the tests pass"
    ]


def test_crackme_solving_needs_a_binary_path_and_ends_with_a_result_that_stops_the_run():
    workflow = WorkflowRegistry.with_builtins().get("crackme_solving")
    assert workflow.config.has_result and workflow.config.on_result_found == "stop_all"
    assert any("accepts" in c for c in workflow.config.result_criteria)
    [binary] = workflow.config.launch_parameters
    assert (binary.name, binary.type, binary.required) == ("binary", "path", True)
    title, _ = workflow.render_first_task("crack it", {"binary": "bin/crackme"})
    assert title == "Reconnaissance: bin/crackme"
