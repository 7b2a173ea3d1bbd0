"""Loading workflow YAML: errors name the file and the field."""

from __future__ import annotations

import pytest

from phases import (
    WorkflowLoadError,
    load_workflow_dir,
    load_workflow_file,
    load_workflows,
    workflow_from_dict,
)

GOOD = """\
name: triage
description: look then fix
phases:
  - id: 1
    name: look
    description: find the cause
    done_definitions: [cause named]
"""


def _as_list_item(doc: str) -> str:
    """Indent a one-workflow document as an item of a YAML list."""
    return "- " + doc.replace("\n", "\n  ").rstrip() + "\n"


def test_a_yaml_file_with_one_workflow_loads(tmp_path):
    (tmp_path / "triage.yaml").write_text(GOOD)
    [workflow] = load_workflows(tmp_path / "triage.yaml")
    assert workflow.name == "triage" and workflow.phases[0].done_definitions == ["cause named"]


def test_a_file_may_hold_a_bare_list_of_workflows(tmp_path):
    path = tmp_path / "many.yaml"
    path.write_text(_as_list_item(GOOD) + _as_list_item(GOOD.replace("triage", "other")))
    assert [w.name for w in load_workflow_file(path)] == ["triage", "other"]


def test_a_file_may_hold_a_workflows_key_with_a_list(tmp_path):
    items = _as_list_item(GOOD) + _as_list_item(GOOD.replace("triage", "other"))
    path = tmp_path / "many.yaml"
    path.write_text("workflows:\n" + "".join(f"  {line}\n" for line in items.splitlines()))
    assert [w.name for w in load_workflows(path)] == ["triage", "other"]


def test_a_yaml_typo_names_the_file_and_the_field(tmp_path):
    path = tmp_path / "bad.yaml"
    path.write_text(GOOD.replace("done_definitions", "done_definition"))
    with pytest.raises(WorkflowLoadError) as err:
        load_workflows(path)
    assert f"{path}: phases.0.done_definition: Extra inputs are not permitted" in str(err.value)


def test_a_wrong_type_names_the_file_and_the_field(tmp_path):
    path = tmp_path / "bad.yaml"
    path.write_text(GOOD.replace("[cause named]", "cause named"))
    with pytest.raises(WorkflowLoadError) as err:
        load_workflows(path)
    assert str(err.value) == f"{path}: phases.0.done_definitions: Input should be a valid list"


def test_every_problem_in_a_file_gets_its_own_line(tmp_path):
    path = tmp_path / "bad.yaml"
    path.write_text(GOOD.replace("id: 1", "id: one").replace("[cause named]", "cause named"))
    with pytest.raises(WorkflowLoadError) as err:
        load_workflows(path)
    lines = str(err.value).splitlines()
    assert [line.split(": ")[1] for line in lines] == ["phases.0.id", "phases.0.done_definitions"]


def test_an_error_in_the_second_workflow_of_a_list_gives_its_index(tmp_path):
    path = tmp_path / "many.yaml"
    path.write_text(_as_list_item(GOOD) + _as_list_item(GOOD.replace("id: 1", "id: one")))
    with pytest.raises(WorkflowLoadError, match=r"many.yaml: 1.phases.0.id: Input should be"):
        load_workflows(path)


def test_a_yaml_syntax_error_gives_the_line(tmp_path):
    path = tmp_path / "broken.yaml"
    path.write_text(GOOD.replace("    name: look", "    name: look: twice"))
    with pytest.raises(WorkflowLoadError) as err:
        load_workflows(path)
    assert str(err.value).startswith(f"{path}: line 5, column 15: invalid YAML: mapping values")


def test_an_empty_file_says_it_holds_no_workflow(tmp_path):
    path = tmp_path / "empty.yaml"
    path.write_text("# nothing yet\n")
    with pytest.raises(WorkflowLoadError, match="empty.yaml: the file holds no workflow"):
        load_workflows(path)


def test_keys_beside_workflows_are_refused_rather_than_ignored(tmp_path):
    path = tmp_path / "odd.yaml"
    path.write_text("workflows: []\nnmae: typo\n")
    with pytest.raises(WorkflowLoadError, match="unexpected keys next to 'workflows': nmae"):
        load_workflows(path)


def test_a_name_defined_twice_in_one_file_is_refused(tmp_path):
    path = tmp_path / "twice.yaml"
    path.write_text(_as_list_item(GOOD) * 2)
    with pytest.raises(WorkflowLoadError, match="twice.yaml: workflow names defined twice: triage"):
        load_workflows(path)


def test_a_folder_loads_every_yaml_file_in_name_order(tmp_path):
    (tmp_path / "b.yml").write_text(GOOD.replace("triage", "second"))
    (tmp_path / "a.yaml").write_text(GOOD)
    (tmp_path / "notes.txt").write_text("not a workflow")
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "deeper.yaml").write_text(GOOD.replace("triage", "deeper"))
    assert [w.name for w in load_workflow_dir(tmp_path)] == ["triage", "second"]


def test_a_folder_with_duplicate_names_names_both_files(tmp_path):
    (tmp_path / "a.yaml").write_text(GOOD)
    (tmp_path / "c.yaml").write_text(GOOD)
    with pytest.raises(WorkflowLoadError) as err:
        load_workflows(tmp_path)
    message = str(err.value)
    assert "'triage' is also defined in" in message
    assert str(tmp_path / "a.yaml") in message and str(tmp_path / "c.yaml") in message


def test_a_missing_path_says_so(tmp_path):
    with pytest.raises(WorkflowLoadError, match="nope.yaml: no such file or folder"):
        load_workflows(tmp_path / "nope.yaml")


def test_a_python_dict_loads_and_its_errors_name_the_source():
    workflow = workflow_from_dict(
        {"name": "py", "description": "d", "phases": [{"id": 1, "name": "a", "description": "x"}]}
    )
    assert workflow.phase(1).name == "a"
    with pytest.raises(WorkflowLoadError, match="^mine: phases: Field required$"):
        workflow_from_dict({"name": "py", "description": "d"}, source="mine")


def test_a_python_value_that_is_not_a_mapping_is_refused():
    with pytest.raises(WorkflowLoadError, match="<python>: a workflow must be a mapping, got list"):
        workflow_from_dict([1, 2])


def test_a_load_error_is_a_value_error_for_callers_that_catch_those():
    assert issubclass(WorkflowLoadError, ValueError)


def test_a_verify_spec_loads_from_yaml_and_a_bad_one_names_its_field(tmp_path):
    path = tmp_path / "checked.yaml"
    path.write_text(GOOD + "config:\n  verify: {command: pytest -q, timeout: 120}\n")
    (workflow,) = load_workflows(path)
    assert workflow.verify_for(1).command == "pytest -q"
    path.write_text(GOOD + "config:\n  verify: {command: pytest -q, on_fail: shrug}\n")
    with pytest.raises(WorkflowLoadError, match=r"checked.yaml: config.verify.on_fail: Input"):
        load_workflows(path)
