"""The set of workflows one server offers, by name."""

from __future__ import annotations

from pathlib import Path

from phases.loader import builtin_workflows, load_workflows
from phases.models import Workflow


class WorkflowRegistry:
    def __init__(self, workflows: list[Workflow] | None = None):
        self._by_name: dict[str, Workflow] = {}
        for workflow in workflows or []:
            self.add(workflow)

    @classmethod
    def with_builtins(cls, extra_paths: list[Path] | None = None) -> WorkflowRegistry:
        """Built-ins first; workflows from extra files or folders replace same-named ones."""
        registry = cls(builtin_workflows())
        for path in extra_paths or []:
            for workflow in load_workflows(path):
                registry.add(workflow)
        return registry

    def add(self, workflow: Workflow, replace: bool = True) -> None:
        if not replace and workflow.name in self._by_name:
            raise ValueError(f"workflow {workflow.name!r} already exists")
        self._by_name[workflow.name] = workflow

    def get(self, name: str) -> Workflow:
        try:
            return self._by_name[name]
        except KeyError:
            raise KeyError(f"no workflow {name!r}; available: {', '.join(self.names())}") from None

    def names(self) -> list[str]:
        return sorted(self._by_name)

    def all(self) -> list[Workflow]:
        return [self._by_name[n] for n in self.names()]

    def __contains__(self, name: object) -> bool:
        return name in self._by_name
