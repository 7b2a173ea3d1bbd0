"""What an agent is handed: its CLI's command line, MCP config and settings, from templates.

Templates are data (clis.yaml, settings.json) so a user can see and change
them; rendering fills placeholders inside single argv elements only, so a
value can never become a second argument or shell syntax.
"""

from __future__ import annotations

import json
import shlex
import sys
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, Field

from claude_config import permission_hook
from claude_config.confinement import Confinement, claude_denials, claude_sandbox

START_PROMPT = (
    "Your Hephaestus task brief is in the file {brief}. Read it now and do the task it "
    "describes; it also explains how to report back through the hephaestus tools."
)


class CliTemplate(BaseModel):
    argv: list[str] = Field(min_length=1)
    model_args: list[str] = Field(default_factory=list)
    mcp_format: Literal["claude", "gemini", "opencode", "none"] = "claude"
    trust: Literal["claude", "none"] = "none"
    token_env: str | None = None
    config_env: str | None = None
    # claude: Claude Code's own sandbox, from settings we write; bwrap: the launcher runs the
    # whole CLI inside bubblewrap built from the same plan (no CLI of its own needed).
    sandbox: Literal["claude", "bwrap"] = "bwrap"


@dataclass
class AgentLaunch:
    """Everything the templates may refer to for one agent."""

    url: str
    token: str
    agent_dir: Path  # what the agent may read of ours: its brief
    worktree: Path
    task_id: str
    run_id: str
    private_dir: Path | None = None  # its MCP config and settings; default: agent_dir
    model: str | None = None
    allowed_tools: list[str] = field(default_factory=list)
    read_only: bool = False  # a validator: judges the work, never edits it
    confinement: Confinement | None = None  # None: the user turned the sandbox off

    @property
    def private(self) -> Path:
        return self.private_dir or self.agent_dir

    @property
    def brief(self) -> Path:
        return self.agent_dir / "brief.md"

    @property
    def mcp_config(self) -> Path:
        return self.private / "mcp.json"

    @property
    def settings(self) -> Path:
        return self.private / "settings.json"

    @property
    def hook_config(self) -> Path:
        return self.private / "hook.json"

    def values(self) -> dict[str, str]:
        values = {
            "brief": str(self.brief),
            "mcp_config": str(self.mcp_config),
            "settings": str(self.settings),
            "agent_dir": str(self.agent_dir),
            "worktree": str(self.worktree),
            "task_id": self.task_id,
            "run_id": self.run_id,
            "url": self.url,
            "model": self.model or "",
        }
        values["prompt"] = START_PROMPT.format(brief=values["brief"])
        return values


def builtin_clis() -> dict[str, CliTemplate]:
    text = resources.files("claude_config").joinpath("clis.yaml").read_text()
    return {name: CliTemplate.model_validate(spec) for name, spec in yaml.safe_load(text).items()}


def cli_template(name: str, custom_command: str | None) -> CliTemplate:
    """The named CLI's template; `custom` is the user's command line, split like a shell would."""
    if name == "custom":
        if not custom_command:
            raise ValueError("agent CLI 'custom' needs agent_command (--agent-command '...')")
        return CliTemplate(argv=shlex.split(custom_command), mcp_format="claude")
    clis = builtin_clis()
    if name not in clis:
        raise ValueError(f"unknown agent CLI {name!r}; choose one of {sorted(clis)} or custom")
    return clis[name]


def render_argv(template: CliTemplate, launch: AgentLaunch) -> list[str]:
    values = launch.values()
    argv = list(template.argv) + (list(template.model_args) if launch.model else [])
    return [_fill(arg, values) for arg in argv]


def _fill(arg: str, values: dict[str, str]) -> str:
    for key, value in values.items():
        arg = arg.replace("{" + key + "}", value)
    return arg


def mcp_config(template: CliTemplate, launch: AgentLaunch) -> dict[str, Any] | None:
    """The CLI's MCP config with the agent's bearer token, in the CLI's own format."""
    headers = {"Authorization": f"Bearer {launch.token}"}
    if template.mcp_format == "claude":
        server: dict[str, Any] = {"type": "http", "url": launch.url, "headers": headers}
        return {"mcpServers": {"hephaestus": server}}
    if template.mcp_format == "gemini":
        return {"mcpServers": {"hephaestus": {"httpUrl": launch.url, "headers": headers}}}
    if template.mcp_format == "opencode":
        server = {"type": "remote", "url": launch.url, "headers": headers, "enabled": True}
        # Inside bubblewrap every tool may run without asking: nothing is left to a dialog.
        allow = {"edit": "allow", "bash": "allow", "webfetch": "allow"}
        return {"$schema": "https://opencode.ai/config.json", "mcp": {"hephaestus": server},
                "permission": allow}  # fmt: skip
    return None


EDIT_TOOLS = ["Edit", "Write", "NotebookEdit"]


HOOK_SCRIPT = Path(permission_hook.__file__)
# A question may wait up to a day (the policy's maximum timeout); the hook gives up just
# before Claude Code would, so the agent always hears a decision rather than a timeout.
HOOK_DEADLINE = 86400 + 60
HOOK_TIMEOUT = HOOK_DEADLINE + 60


def claude_settings(launch: AgentLaunch) -> dict[str, Any]:
    """Claude Code settings: the template, the phase's extra tools, the sandbox and our hook.

    Inside its sandbox every shell command runs without a prompt; whatever Claude
    Code would still ask a human goes to the permission hook instead. A validator
    is denied the editing tools as well, and its sandbox cannot write its worktree.
    """
    text = resources.files("claude_config").joinpath("settings.json").read_text()
    settings: dict[str, Any] = json.loads(text)
    permissions = settings["permissions"]
    allow = list(permissions["allow"])
    allow += [t for t in launch.allowed_tools if t not in allow]
    permissions["deny"] = []
    if launch.read_only:
        allow = [t for t in allow if t not in EDIT_TOOLS]
        permissions["deny"] += EDIT_TOOLS
        permissions["defaultMode"] = "default"
    if launch.confinement is not None:
        settings["sandbox"] = claude_sandbox(launch.confinement)
        permissions["deny"] += claude_denials(launch.confinement)
    else:
        allow.append("Bash")  # the user turned the sandbox off: commands run as they are
    permissions["allow"] = allow
    settings["hooks"] = {"PermissionRequest": [{"matcher": "*", "hooks": [
        {"type": "command", "command": hook_command(launch), "timeout": HOOK_TIMEOUT}
    ]}]}  # fmt: skip
    return settings


def hook_command(launch: AgentLaunch) -> str:
    """The hook's command line (Claude Code runs it through a shell: every part quoted)."""
    return shlex.join([sys.executable, "-I", str(HOOK_SCRIPT), str(launch.hook_config)])


def hook_config(launch: AgentLaunch) -> dict[str, Any]:
    """Where the hook asks, as whom; written beside the MCP config, out of the agent's reach."""
    return {
        "url": launch.url.removesuffix("/mcp"),
        "token": launch.token,
        "sandboxed": launch.confinement is not None,
        "network": list(launch.confinement.network) if launch.confinement else ["*"],
        "deadline": HOOK_DEADLINE,
    }
