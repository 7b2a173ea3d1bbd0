"""The workflows a server offers: built-ins, configured files, and ones registered over MCP.

Registered definitions are stored so they survive restarts; the registry in
memory is the merged view callers read.
"""

from __future__ import annotations

from pydantic import ValidationError

from heph_mcp.errors import InvalidRequest, NotFound
from heph_mcp.records import Principal
from heph_mcp.services.common import now, record_event
from heph_mcp.store import Store
from phases import Workflow, WorkflowRegistry


class WorkflowService:
    def __init__(self, store: Store, registry: WorkflowRegistry):
        self._store = store
        self.registry = registry

    async def load_registered(self) -> None:
        for row in await self._store.fetchall("SELECT definition FROM workflows"):
            self.registry.add(Workflow.model_validate_json(row["definition"]))

    def all(self) -> list[Workflow]:
        return self.registry.all()

    def get(self, name: str) -> Workflow:
        try:
            return self.registry.get(name)
        except KeyError:
            raise NotFound(
                f"no workflow {name!r}; available: {', '.join(self.registry.names())}"
            ) from None

    async def register(self, principal: Principal, definition: dict) -> Workflow:
        try:
            workflow = Workflow.model_validate(definition)
        except ValidationError as exc:
            problems = "; ".join(
                f"{'.'.join(str(p) for p in e['loc']) or '(root)'}: {e['msg']}"
                for e in exc.errors()
            )
            raise InvalidRequest(f"invalid workflow definition: {problems}") from None
        async with self._store.transaction() as db:
            await db.execute(
                "INSERT INTO workflows (name, definition, registered_by, created_at) "
                "VALUES (?, ?, ?, ?) ON CONFLICT(name) DO UPDATE SET "
                "definition = excluded.definition, registered_by = excluded.registered_by",
                (workflow.name, workflow.model_dump_json(), principal.id, now()),
            )
            await record_event(db, principal.id, "workflow_registered", name=workflow.name)
        self.registry.add(workflow)
        return workflow
