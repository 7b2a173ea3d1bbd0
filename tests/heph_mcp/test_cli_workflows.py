"""`heph workflows list | show | check`."""

from __future__ import annotations

from typer.testing import CliRunner

from heph_mcp.cli_workflows import workflows_app

runner = CliRunner()


def test_list_shows_every_builtin_with_its_phases():
    result = runner.invoke(workflows_app, ["list"], env={"COLUMNS": "200"})
    assert result.exit_code == 0
    assert "bug_fix" in result.stdout and "reproduce → fix → verify" in result.stdout


def test_show_prints_every_phase_with_its_done_definitions():
    result = runner.invoke(workflows_app, ["show", "bug_fix"], env={"COLUMNS": "200"})
    assert result.exit_code == 0
    assert "phase 3: verify" in result.stdout and "Done when" in result.stdout


def test_show_of_an_unknown_workflow_exits_2_and_lists_the_names():
    result = runner.invoke(workflows_app, ["show", "nope"])
    assert result.exit_code == 2 and "available: bug_fix" in result.stderr


def test_check_accepts_a_good_folder(tmp_path):
    (tmp_path / "t.yaml").write_text(
        "name: t\ndescription: d\nphases:\n  - {id: 1, name: a, description: x}\n"
    )
    result = runner.invoke(workflows_app, ["check", str(tmp_path)])
    assert result.exit_code == 0 and "ok: 1 workflows (t)" in result.stdout


def test_check_names_the_file_and_field_of_an_error(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("name: t\ndescription: d\nphases:\n  - {id: 1, name: a}\n")
    result = runner.invoke(workflows_app, ["check", str(bad)])
    assert result.exit_code == 1
    assert f"{bad}: phases.0.description: Field required" in result.stderr


def test_list_with_an_extra_path_includes_its_workflows(tmp_path):
    (tmp_path / "t.yaml").write_text(
        "name: mine\ndescription: d\nphases:\n  - {id: 1, name: a, description: x}\n"
    )
    result = runner.invoke(workflows_app, ["list", "--path", str(tmp_path)])
    assert result.exit_code == 0 and "mine" in result.stdout
