"""`heph workflows list | show | check`."""

from __future__ import annotations

from typer.testing import CliRunner

from heph_mcp.commands.workflows import workflows_app

runner = CliRunner()
WIDE = {"COLUMNS": "200"}
MINE = "name: mine\ndescription: d\nphases:\n  - {id: 1, name: a, description: x}\n"


def _invoke(*args: str):
    return runner.invoke(workflows_app, list(args), env=WIDE)


def test_list_shows_every_builtin_with_its_phases():
    result = _invoke("list")
    assert result.exit_code == 0
    assert "bug_fix" in result.stdout and "reproduce → fix → verify" in result.stdout
    assert "prd_to_software" in result.stdout and "index_repo" in result.stdout


def test_list_with_an_extra_path_includes_its_workflows(tmp_path):
    (tmp_path / "t.yaml").write_text(MINE)
    result = _invoke("list", "--path", str(tmp_path))
    assert result.exit_code == 0 and "mine" in result.stdout and "bug_fix" in result.stdout


def test_list_with_a_broken_extra_path_exits_1_naming_the_file(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text(MINE.replace("description: x", "descripton: x"))
    result = _invoke("list", "--path", str(bad))
    assert result.exit_code == 1
    assert f"{bad}: phases.0.descripton: Extra inputs are not permitted" in result.stderr


def test_show_prints_every_phase_with_its_done_definitions_and_validation():
    result = _invoke("show", "bug_fix")
    assert result.exit_code == 0
    for text in ("phase 1: reproduce", "phase 3: verify", "Done when", "Validation: on"):
        assert text in result.stdout
    assert "Agent: launcher default" in result.stdout


def test_show_finds_a_workflow_from_an_extra_path(tmp_path):
    (tmp_path / "t.yaml").write_text(MINE.replace("description: x", "description: '[red]x[/]'"))
    result = _invoke("show", "mine", "--path", str(tmp_path))
    assert result.exit_code == 0 and "phase 1: a" in result.stdout
    assert "[red]x[/]" in result.stdout


def test_show_of_an_unknown_workflow_exits_2_and_lists_the_names():
    result = _invoke("show", "nope")
    assert result.exit_code == 2
    assert "no workflow 'nope'; available: bug_fix, crackme_solving, documentation" in result.stderr


def test_check_accepts_a_good_folder(tmp_path):
    (tmp_path / "t.yaml").write_text(MINE)
    (tmp_path / "u.yml").write_text(MINE.replace("mine", "yours"))
    result = _invoke("check", str(tmp_path))
    assert result.exit_code == 0 and "ok: 2 workflows (mine, yours)" in result.stdout


def test_check_names_the_file_and_field_of_an_error(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("name: t\ndescription: d\nphases:\n  - {id: 1, name: a}\n")
    result = _invoke("check", str(bad))
    assert result.exit_code == 1
    assert f"{bad}: phases.0.description: Field required" in result.stderr


def test_check_gives_the_line_of_a_yaml_syntax_error(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("name: t\ndescription: [d\n")
    result = _invoke("check", str(bad))
    assert result.exit_code == 1 and f"{bad}: line 3" in result.stderr


def test_check_of_a_missing_path_exits_1(tmp_path):
    result = _invoke("check", str(tmp_path / "nope"))
    assert result.exit_code == 1 and "no such file or folder" in result.stderr


def test_check_accepts_a_verify_spec_and_show_prints_it(tmp_path):
    path = tmp_path / "checked.yaml"
    path.write_text(MINE + "config:\n  verify: {command: pytest -q, on_fail: fix_task}\n")
    assert _invoke("check", str(path)).exit_code == 0
    shown = _invoke("show", "mine", "--path", str(path))
    assert "`pytest -q` within 600s, on failure fix_task" in shown.stdout


def test_show_gives_each_launch_parameter_its_type_and_default(tmp_path):
    (tmp_path / "t.yaml").write_text(
        MINE + "config:\n  launch_parameters:\n"
        "    - {name: depth, type: integer, default: 2}\n"
        "    - {name: mode, type: choice, options: [quick, thorough], required: true}\n"
    )
    result = _invoke("show", "mine", "--path", str(tmp_path))
    assert result.exit_code == 0
    assert "depth (integer, optional, default 2)" in result.stdout
    assert "mode (one of quick, thorough, required)" in result.stdout


def test_show_prints_the_crackme_workflow_with_its_four_phases_and_its_result():
    result = _invoke("show", "crackme_solving")
    assert result.exit_code == 0
    for number, name in enumerate(["reconnaissance", "analysis", "solving", "verification"], 1):
        assert f"phase {number}: {name}" in result.stdout
    assert "binary (path, required)" in result.stdout
    assert "Result (stop_all when found)" in result.stdout
