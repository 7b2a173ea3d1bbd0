"""Phase and workflow model.

A workflow names phase *types*, not a task graph: agents create tasks in any
phase as they discover work, so the model only has to say what each phase is
for, when its work counts as done, and how its agents run.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Annotated, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    field_validator,
    model_validator,
)

from phases.approvals import ApprovalPolicy
from phases.params import LaunchParameter, ParamValue, resolve_params

NAME_PATTERN = r"^[a-z][a-z0-9_\-]{0,63}$"
LABEL_PATTERN = r"^[a-z0-9][a-z0-9_.\-]{0,63}$"
# A worker label (placement): `gpu`, `macos`, `big-memory`.
Label = Annotated[str, StringConstraints(pattern=LABEL_PATTERN)]
UNSCOPED_FILE_TOOLS = ("Read", "Edit", "Write", "MultiEdit", "NotebookEdit", "Glob", "Grep")


class _Strict(BaseModel):
    """Unknown keys are errors: a typo in a workflow file must not be ignored."""

    model_config = ConfigDict(extra="forbid", frozen=True)


class Validation(_Strict):
    enabled: bool = False
    criteria: list[str] = Field(default_factory=list)
    instructions: str = ""


class Verify(_Strict):
    """A check the run's branch must pass: it runs on each merged tree before `heph/<run>` moves,
    so the branch never holds a commit that fails it. A bare string is the command."""

    command: str = Field(
        min_length=1,
        max_length=4096,
        description="Run with `sh -c` at the root of the merged tree; exit status 0 passes",
    )
    timeout: float = Field(
        default=600.0, gt=0, le=86400, description="Seconds before the check is stopped as failed"
    )
    on_fail: Literal["needs_work", "fix_task"] = Field(
        default="needs_work",
        description="needs_work: the task goes back to its agent with the output;"
        " fix_task: a new task starts from the task's branch to make the check pass",
    )

    @model_validator(mode="before")
    @classmethod
    def _command_alone(cls, value: object) -> object:
        return {"command": value} if isinstance(value, str) else value

    @field_validator("command")
    @classmethod
    def _not_blank(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("the verify command must not be blank")
        return value


class AgentSpec(_Strict):
    """Which agent CLI runs this phase's tasks; None means the launcher default."""

    cli: str | None = None
    model: str | None = None
    allowed_tools: list[str] = Field(
        default_factory=list,
        description="Extra tool permissions for this phase's agents (Claude Code rule syntax)",
    )

    @field_validator("allowed_tools")
    @classmethod
    def _scoped_file_tools(cls, value: list[str]) -> list[str]:
        """A bare file tool would let every path past the approval policy, Hephaestus' own
        state included: it must name what it opens."""
        bare = [tool for tool in value if tool in UNSCOPED_FILE_TOOLS]
        if bare:
            raise ValueError(
                f"allowed_tools {bare} would open every file to this phase's agents, past the"
                " approval policy; scope each, e.g. 'Read(./docs/**)' or 'Edit(/srv/site/**)'"
            )
        return value


class Phase(_Strict):
    id: int = Field(ge=1, le=99, description="1-based order of the phase in its workflow")
    name: str = Field(min_length=1, max_length=64)
    description: str = Field(min_length=1)
    done_definitions: list[str] = Field(default_factory=list)
    additional_notes: str = ""
    outputs: list[str] = Field(default_factory=list)
    next_steps: list[str] = Field(default_factory=list)
    working_directory: str | None = None
    validation: Validation = Field(default_factory=Validation)
    agent: AgentSpec = Field(default_factory=AgentSpec)
    requires: list[Label] = Field(
        default_factory=list,
        description="Worker labels (e.g. gpu, macos) a worker must have to claim this phase's"
        " tasks; `heph worker --labels` sets a worker's",
    )
    approvals: ApprovalPolicy | None = Field(
        default=None, description="Rules tried before the workflow's for this phase's agents"
    )
    verify: Verify | None = Field(
        default=None, description="This phase's merge check; replaces the workflow's"
    )


class Board(_Strict):
    columns: list[str] = Field(
        default_factory=lambda: ["backlog", "todo", "in_progress", "review", "done"]
    )

    @field_validator("columns")
    @classmethod
    def _unique_columns(cls, value: list[str]) -> list[str]:
        if not value:
            raise ValueError("a board needs at least one column")
        if len(set(value)) != len(value):
            raise ValueError(f"board columns must be unique, got {value}")
        return value


class Budget(_Strict):
    """A run's spending cap: at 80% a warning, at 100% nothing new launches and agents wrap up."""

    tokens: int | None = Field(default=None, ge=1, description="All tokens, cache included")
    usd: float | None = Field(default=None, gt=0, description="Estimated US dollars")


class WorkflowConfig(_Strict):
    has_result: bool = False
    result_criteria: list[str] = Field(default_factory=list)
    on_result_found: Literal["stop_all", "keep_going"] = "stop_all"
    enable_tickets: bool = False
    board: Board = Field(default_factory=Board)
    max_concurrent_agents: int = Field(default=3, ge=1, le=64)
    launch_parameters: list[LaunchParameter] = Field(default_factory=list)
    approvals: ApprovalPolicy = Field(
        default_factory=ApprovalPolicy,
        description="How requests an agent's settings do not allow are decided",
    )
    verify: Verify | None = Field(
        default=None, description="The merge check of every phase that names none of its own"
    )
    budget: Budget | None = Field(
        default=None,
        description="Each run's cap; start_workflow's params budget_tokens/budget_usd override it",
    )


class FirstTask(_Strict):
    """The phase-1 task created when a run starts; `{goal}` and parameters are substituted."""

    title: str = "{goal}"
    description: str = "{goal}"


class Workflow(_Strict):
    name: str = Field(pattern=NAME_PATTERN)
    description: str = Field(min_length=1)
    phases: list[Phase] = Field(min_length=1)
    config: WorkflowConfig = Field(default_factory=WorkflowConfig)
    first_task: FirstTask = Field(default_factory=FirstTask)

    @model_validator(mode="after")
    def _phase_ids_are_1_to_n(self) -> Workflow:
        ids = [p.id for p in self.phases]
        if ids != list(range(1, len(ids) + 1)):
            raise ValueError(f"phase ids must be 1..{len(ids)} in order, got {ids}")
        names = [p.name for p in self.phases]
        if len(set(names)) != len(names):
            raise ValueError(f"phase names must be unique, got {names}")
        return self

    def phase(self, ref: int | str) -> Phase:
        """Find a phase by id or by name; KeyError says which phases exist."""
        for p in self.phases:
            if p.id == ref or p.name == ref or (isinstance(ref, str) and ref == str(p.id)):
                return p
        raise KeyError(
            f"workflow {self.name!r} has no phase {ref!r}; phases are "
            + ", ".join(f"{p.id} ({p.name})" for p in self.phases)
        )

    def verify_for(self, ref: int | str) -> Verify | None:
        """The merge check of a phase's tasks: the phase's own, else the workflow's."""
        return self.phase(ref).verify or self.config.verify

    def resolve_params(self, params: Mapping[str, object]) -> dict[str, ParamValue]:
        """Each launch parameter's value in its type (given, else its default); ValueError
        names every wrong, missing or unknown one and what is allowed."""
        return resolve_params(self.name, self.config.launch_parameters, params)

    def render_first_task(self, goal: str, params: Mapping[str, object]) -> tuple[str, str]:
        """Substitute goal and launch parameters into the first task; bad parameters fail."""
        values = {name: str(value) for name, value in self.resolve_params(params).items()}
        values["goal"] = goal
        return _substitute(self.first_task.title, values), _substitute(
            self.first_task.description, values
        )


def _substitute(template: str, values: dict[str, str]) -> str:
    """Replace `{name}` placeholders only for known names, so other braces survive."""
    return re.sub(
        r"\{([a-zA-Z_][a-zA-Z0-9_]*)\}",
        lambda m: values.get(m.group(1), m.group(0)),
        template,
    )
