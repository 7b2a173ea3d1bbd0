"""The shipped workflows load and say what agents need."""

from __future__ import annotations

import pytest

from phases import WorkflowRegistry, builtin_workflows

EXPECTED = {
    "bug_fix": ["reproduce", "fix", "verify"],
    "prd_to_software": ["requirements", "implement", "validate"],
    "feature_development": ["design", "implement", "test"],
    "index_repo": ["survey", "document_area"],
    "documentation": ["audit", "write", "review"],
}


def test_every_builtin_workflow_loads_with_its_phases():
    found = {w.name: [p.name for p in w.phases] for w in builtin_workflows()}
    assert found == EXPECTED


@pytest.mark.parametrize("workflow", builtin_workflows(), ids=lambda w: w.name)
def test_every_builtin_phase_has_checkable_done_definitions(workflow):
    for phase in workflow.phases:
        assert phase.description.strip() and phase.done_definitions, (workflow.name, phase.name)


def test_prd_to_software_needs_the_prd_path_and_produces_a_result():
    workflow = WorkflowRegistry.with_builtins().get("prd_to_software")
    assert workflow.config.has_result and workflow.config.enable_tickets
    _, description = workflow.render_first_task("todo app", {"prd_path": "docs/PRD.md"})
    assert "docs/PRD.md" in description and "todo app" in description


def test_extra_workflow_files_override_builtins_of_the_same_name(tmp_path):
    (tmp_path / "bug_fix.yaml").write_text(
        "name: bug_fix\ndescription: mine\nphases:\n  - {id: 1, name: only, description: x}\n"
    )
    registry = WorkflowRegistry.with_builtins([tmp_path])
    assert registry.get("bug_fix").description == "mine"
    assert "documentation" in registry


def test_an_unknown_workflow_name_lists_the_available_ones():
    with pytest.raises(KeyError, match="available: bug_fix, documentation"):
        WorkflowRegistry.with_builtins().get("nope")
