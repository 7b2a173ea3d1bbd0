"""What the launcher remembers about an agent: its folders are always its own."""

from __future__ import annotations

from pathlib import Path

import pytest

from launcher.sessions import AgentSession


@pytest.mark.parametrize("name", [".", "..", "", "a/b", "a\x00b"])
def test_a_session_whose_name_is_not_one_plain_folder_name_is_refused(tmp_path: Path, name):
    """The name becomes folders that are removed with rmtree: `..` would be the state
    folder, `.` every agent's folder."""
    with pytest.raises(ValueError, match="session name"):
        AgentSession(
            "a1", "t1", "r1", "", name, tmp_path / "wt", tmp_path / "agents" / name,
            private_dir=tmp_path / "private" / name,
        )  # fmt: skip


def test_a_plain_session_name_is_kept(tmp_path: Path):
    session = AgentSession(
        "a1", "t1", "r1", "", "heph-r1-t1", tmp_path / "wt", tmp_path / "agents" / "heph-r1-t1"
    )
    assert session.agent_dir.name == "heph-r1-t1"
