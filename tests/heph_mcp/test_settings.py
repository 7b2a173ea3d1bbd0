"""Settings: flags beat HEPH_* env, env beats the project file, files beat defaults."""

from __future__ import annotations

from heph_mcp.settings import load_settings


def test_defaults_work_out_of_the_box(tmp_path):
    settings = load_settings(project=tmp_path)
    assert (settings.host, settings.port) == ("127.0.0.1", 8000)
    assert settings.state_dir == tmp_path.resolve() / ".hephaestus"
    assert settings.url == "http://127.0.0.1:8000/mcp"


def test_the_project_toml_file_is_read(tmp_path):
    (tmp_path / "hephaestus.toml").write_text("port = 9100\nmax_concurrent_agents = 7\n")
    settings = load_settings(project=tmp_path)
    assert (settings.port, settings.max_concurrent_agents) == (9100, 7)


def test_the_project_yaml_file_is_read(tmp_path):
    (tmp_path / "hephaestus.yaml").write_text("port: 9200\n")
    assert load_settings(project=tmp_path).port == 9200


def test_environment_beats_the_file_and_flags_beat_the_environment(tmp_path, monkeypatch):
    (tmp_path / "hephaestus.toml").write_text("port = 9100\n")
    monkeypatch.setenv("HEPH_PORT", "9300")
    assert load_settings(project=tmp_path).port == 9300
    assert load_settings(project=tmp_path, port=9400).port == 9400


def test_a_public_url_is_what_clients_are_told(tmp_path):
    settings = load_settings(project=tmp_path, public_url="https://heph.example.test/")
    assert settings.url == "https://heph.example.test/mcp"
