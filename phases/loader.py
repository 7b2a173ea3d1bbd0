"""Load workflows from YAML files, folders, dicts, and the built-in set.

Every error names the file and the field (`bug_fix.yaml: phases.1.done_definitions:
Input should be a valid list`), because the person fixing it is looking at the file.
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from phases.models import Workflow


class WorkflowLoadError(ValueError):
    """A workflow file or definition that cannot be used, with where and why."""


def workflow_from_dict(data: Any, source: str = "<python>") -> Workflow:
    if not isinstance(data, dict):
        raise WorkflowLoadError(
            f"{source}: a workflow must be a mapping, got {type(data).__name__}"
        )
    try:
        return Workflow.model_validate(data)
    except ValidationError as exc:
        raise WorkflowLoadError(_describe(source, exc)) from None


def load_workflow_text(text: str, source: str) -> list[Workflow]:
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" line {mark.line + 1}" if mark is not None else ""
        raise WorkflowLoadError(f"{source}:{where} invalid YAML: {exc}") from None
    if isinstance(data, dict) and "workflows" in data:
        data = data["workflows"]
    items = data if isinstance(data, list) else [data]
    return [
        workflow_from_dict(item, f"{source}[{i}]" if len(items) > 1 else source)
        for i, item in enumerate(items)
    ]


def load_workflow_file(path: Path) -> list[Workflow]:
    try:
        text = path.read_text()
    except OSError as exc:
        raise WorkflowLoadError(f"{path}: cannot read: {exc.strerror}") from None
    return load_workflow_text(text, str(path))


def load_workflow_dir(path: Path) -> list[Workflow]:
    found: dict[str, tuple[Workflow, Path]] = {}
    files = sorted(p for p in path.iterdir() if p.suffix in (".yaml", ".yml") and p.is_file())
    for file in files:
        for workflow in load_workflow_file(file):
            if workflow.name in found:
                other = found[workflow.name][1]
                raise WorkflowLoadError(
                    f"{file}: workflow {workflow.name!r} is also defined in {other}"
                )
            found[workflow.name] = (workflow, file)
    return [w for w, _ in found.values()]


def load_workflows(path: Path) -> list[Workflow]:
    """A YAML file or a folder of them."""
    if path.is_dir():
        return load_workflow_dir(path)
    if path.is_file():
        return load_workflow_file(path)
    raise WorkflowLoadError(f"{path}: no such file or folder")


def builtin_workflows() -> list[Workflow]:
    folder = resources.files("phases") / "builtin"
    workflows = []
    for entry in sorted(folder.iterdir(), key=lambda e: e.name):
        if entry.name.endswith((".yaml", ".yml")):
            workflows += load_workflow_text(entry.read_text(), f"builtin/{entry.name}")
    return workflows


def _describe(source: str, exc: ValidationError) -> str:
    lines = []
    for error in exc.errors():
        field = ".".join(str(part) for part in error["loc"]) or "(top level)"
        lines.append(f"{source}: {field}: {error['msg']}")
    return "\n".join(lines)
