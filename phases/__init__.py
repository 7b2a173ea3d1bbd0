"""Phase and workflow model, loaders and the built-in workflows."""

from phases.approvals import ApprovalPolicy, ApprovalRule
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
    "ApprovalPolicy",
    "ApprovalRule",
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
