"""Loading workflow YAML: errors name the file and the field."""

from __future__ import annotations

import pytest

from phases import WorkflowLoadError, load_workflows, workflow_from_dict

GOOD = """\
name: triage
description: look then fix
phases:
  - id: 1
    name: look
    description: find the cause
    done_definitions: [cause named]
"""


def test_a_yaml_file_with_one_workflow_loads(tmp_path):
    (tmp_path / "triage.yaml").write_text(GOOD)
    [workflow] = load_workflows(tmp_path / "triage.yaml")
    assert workflow.name == "triage" and workflow.phases[0].done_definitions == ["cause named"]


def test_a_file_may_hold_a_list_of_workflows(tmp_path):
    second = GOOD.replace("triage", "other")
    path = tmp_path / "many.yaml"
    path.write_text(
        "workflows:\n"
        + "".join("  - " + doc.replace("\n", "\n    ").rstrip() + "\n" for doc in (GOOD, second))
    )
    assert [w.name for w in load_workflows(path)] == ["triage", "other"]


def test_a_typo_names_the_file_and_the_field(tmp_path):
    path = tmp_path / "bad.yaml"
    path.write_text(GOOD.replace("done_definitions", "done_definition"))
    with pytest.raises(WorkflowLoadError) as err:
        load_workflows(path)
    assert f"{path}: phases.0.done_definition: Extra inputs are not permitted" in str(err.value)


def test_a_wrong_type_names_the_file_and_the_field(tmp_path):
    path = tmp_path / "bad.yaml"
    path.write_text(GOOD.replace("id: 1", "id: first"))
    with pytest.raises(WorkflowLoadError, match=r"bad.yaml: phases.0.id: Input should be"):
        load_workflows(path)


def test_a_yaml_syntax_error_gives_the_line(tmp_path):
    path = tmp_path / "broken.yaml"
    path.write_text(GOOD + "  - id: [unclosed\n")
    with pytest.raises(WorkflowLoadError, match=r"broken.yaml: line \d+ invalid YAML"):
        load_workflows(path)


def test_a_folder_loads_every_yaml_and_refuses_duplicate_names(tmp_path):
    (tmp_path / "a.yaml").write_text(GOOD)
    (tmp_path / "b.yml").write_text(GOOD.replace("triage", "second"))
    (tmp_path / "notes.txt").write_text("not a workflow")
    assert sorted(w.name for w in load_workflows(tmp_path)) == ["second", "triage"]
    (tmp_path / "c.yaml").write_text(GOOD)
    with pytest.raises(WorkflowLoadError, match="'triage' is also defined in"):
        load_workflows(tmp_path)


def test_a_missing_path_says_so(tmp_path):
    with pytest.raises(WorkflowLoadError, match="no such file or folder"):
        load_workflows(tmp_path / "nope.yaml")


def test_a_python_dict_that_is_not_a_mapping_is_refused():
    with pytest.raises(WorkflowLoadError, match="must be a mapping, got list"):
        workflow_from_dict([1, 2])
