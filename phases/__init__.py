"""Phase and workflow model, loaders and the built-in workflows."""

from phases.loader import (
    WorkflowLoadError,
    builtin_workflows,
    load_workflow_dir,
    load_workflow_file,
    load_workflows,
    workflow_from_dict,
)
from phases.models import (
    AgentSpec,
    Board,
    FirstTask,
    LaunchParameter,
    Phase,
    Validation,
    Verify,
    Workflow,
    WorkflowConfig,
)
from phases.registry import WorkflowRegistry

__all__ = [
    "AgentSpec",
    "Board",
    "FirstTask",
    "LaunchParameter",
    "Phase",
    "Validation",
    "Verify",
    "Workflow",
    "WorkflowConfig",
    "WorkflowLoadError",
    "WorkflowRegistry",
    "builtin_workflows",
    "load_workflow_dir",
    "load_workflow_file",
    "load_workflows",
    "workflow_from_dict",
]
