"""Launch parameters: typed values the user supplies when a run starts.

A parameter says what kind of value it takes (text, a whole number, a path, one of a
list), so an MCP host can ask the user for it with the right control, and a wrong
value is refused at start with what was wrong and what is allowed, before any agent
reads it in its first task.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import PurePosixPath
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

ParamType = Literal["string", "integer", "path", "choice"]
ParamValue = str | int
TEXT_LIMIT = 4096


class LaunchParameter(BaseModel):
    """A value the user supplies at start; `{name}` in the first task is replaced by it."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(pattern=r"^[a-zA-Z_][a-zA-Z0-9_]*$")
    description: str = ""
    type: ParamType = Field(
        default="string",
        description="string: any text; integer: a whole number; path: a file or folder, relative"
        " to the project unless absolute; choice: one of `options`",
    )
    required: bool = False
    default: ParamValue | None = None
    options: list[str] = Field(default_factory=list, description="The values a choice allows")
    minimum: int | None = Field(default=None, description="An integer's smallest allowed value")
    maximum: int | None = Field(default=None, description="An integer's largest allowed value")

    @model_validator(mode="after")
    def _consistent(self) -> LaunchParameter:
        if self.type == "choice" and not self.options:
            raise ValueError(f"choice parameter {self.name!r} needs its options")
        if self.type != "choice" and self.options:
            raise ValueError(f"options are for choice parameters; {self.name!r} is {self.type}")
        if len(set(self.options)) != len(self.options):
            raise ValueError(f"options of {self.name!r} must be unique, got {self.options}")
        bounded = self.minimum is not None or self.maximum is not None
        if bounded and self.type != "integer":
            raise ValueError(f"minimum/maximum are for integers; {self.name!r} is {self.type}")
        if self.minimum is not None and self.maximum is not None and self.minimum > self.maximum:
            raise ValueError(f"{self.name!r}: minimum {self.minimum} > maximum {self.maximum}")
        if self.default is not None:
            self.check(self.default)  # a default the parameter itself would refuse is a typo
        return self

    def check(self, value: object) -> ParamValue:
        """The value in its type (an integer given as text becomes a number); ValueError says
        what was wrong and what is allowed."""
        if self.type == "integer":
            return self._integer(value)
        if not isinstance(value, str):
            raise ValueError(f"launch parameter {self.name!r} must be text, got {value!r}")
        if self.type == "choice" and value not in self.options:
            allowed = ", ".join(self.options)
            raise ValueError(
                f"launch parameter {self.name!r} must be one of {allowed}; got {value!r}"
            )
        if self.type == "path":
            return self._path(value)
        if len(value) > TEXT_LIMIT:
            raise ValueError(f"launch parameter {self.name!r} is over {TEXT_LIMIT} characters")
        return value

    def _integer(self, value: object) -> int:
        number: int | None = None
        if isinstance(value, int) and not isinstance(value, bool):
            number = value
        elif isinstance(value, str) and value.strip().lstrip("+-").isdigit():
            number = int(value.strip())
        if number is None:
            raise ValueError(
                f"launch parameter {self.name!r} must be a whole number, got {value!r}"
            )
        if self.minimum is not None and number < self.minimum:
            raise ValueError(
                f"launch parameter {self.name!r} must be >= {self.minimum}, got {number}"
            )
        if self.maximum is not None and number > self.maximum:
            raise ValueError(
                f"launch parameter {self.name!r} must be <= {self.maximum}, got {number}"
            )
        return number

    def _path(self, value: str) -> str:
        text = value.strip()
        if not text or "\x00" in text or "\n" in text or len(text) > TEXT_LIMIT:
            raise ValueError(
                f"launch parameter {self.name!r} must be a path on one line, got {value!r}"
            )
        path = PurePosixPath(text)
        if not path.is_absolute() and _climbs_out(path):
            raise ValueError(
                f"launch parameter {self.name!r}: {text!r} leaves the project; give a path"
                " inside it, or an absolute one"
            )
        return text


def _climbs_out(path: PurePosixPath) -> bool:
    depth = 0
    for part in path.parts:
        depth += -1 if part == ".." else 0 if part == "." else 1
        if depth < 0:
            return True
    return False


def resolve_params(
    workflow: str, specs: list[LaunchParameter], given: Mapping[str, object]
) -> dict[str, ParamValue]:
    """Every parameter's value in its type: the given one, else its default. ValueError lists
    every problem at once (unknown names, missing required ones, wrong values)."""
    known = {spec.name: spec for spec in specs}
    unknown = sorted(set(given) - set(known))
    if unknown:
        allowed = [s.name for s in specs] or "none"
        raise ValueError(f"unknown launch parameters {unknown}; allowed: {allowed}")
    values: dict[str, ParamValue] = {}
    problems: list[str] = []
    for spec in specs:
        if spec.name in given:
            try:
                values[spec.name] = spec.check(given[spec.name])
            except ValueError as exc:
                problems.append(str(exc))
        elif spec.default is not None:
            values[spec.name] = spec.default
        elif spec.required:
            problems.append(f"workflow {workflow!r} needs launch parameter {spec.name!r}")
    if problems:
        raise ValueError("; ".join(problems))
    return values
