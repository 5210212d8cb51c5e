"""`WorkflowService` (web side): price a trigger, pay for it, accept it into Redis.

No Salesforce, no SQL beyond the coalesced credit debit: a burst of triggers is taken at the
speed of one Redis script call per batch, and the workers do the work.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from bridge.credits.batcher import DebitBatcher
from bridge.credits.service import arefund
from bridge.credits.store import Tags
from bridge.db import Database
from bridge.workflows.config import WorkflowDef
from bridge.workflows.jobs import JobIntake, NewJob
from bridge.workflows.models import WorkflowTriggerRequest

# Documented credits: 1 per trigger, +2 with enrichment, +1 with routing.
BASE_CREDITS = 1
ENRICH_CREDITS = 2
ROUTING_CREDITS = 1


class UnknownWorkflow(LookupError):
    pass


@dataclass(frozen=True)
class Acceptance:
    job_id: str
    duplicate: bool
    credits_consumed: int
    credits_remaining: int


def price(definition: WorkflowDef, body: WorkflowTriggerRequest) -> int:
    enriches = definition.enriches and (
        body.enrichment_preferences is None or body.enrichment_preferences.enabled
    )
    return BASE_CREDITS + ENRICH_CREDITS * enriches + ROUTING_CREDITS * definition.routes


class WorkflowService:
    def __init__(
        self,
        db: Database,
        intake: JobIntake,
        debits: DebitBatcher,
        workflows: Mapping[str, WorkflowDef],
    ) -> None:
        self.db = db
        self.intake = intake
        self.debits = debits
        self.workflows = dict(workflows)

    def definition(self, workflow_id: str) -> WorkflowDef:
        found = self.workflows.get(workflow_id)
        if found is None:
            raise UnknownWorkflow(workflow_id)
        return found

    async def trigger(
        self,
        tenant_id: int,
        workflow_id: str,
        body: WorkflowTriggerRequest,
        *,
        request_id: str,
        dedupe_key: str | None,
        response: dict[str, Any],
    ) -> Acceptance:
        """Pay, then accept; a repeated Idempotency-Key is refunded and answered `cached`.
        `response` is the answer so far, kept with the job for the audit log."""
        definition = self.definition(workflow_id)
        cost = price(definition, body)
        # The job id is the run id on the ledger line, so the job is made before paying; the
        # answer (with the balance after paying) joins its payload once paid.
        job = NewJob(tenant_id, workflow_id, body.model_dump(mode="json"),
                     [s.name for s in definition.steps], request_id, dedupe_key)  # fmt: skip
        spent = await self.debits.debit(
            tenant_id, cost, f"workflows:{workflow_id}", request_id,
            Tags(workflow_id=workflow_id, workflow_run_id=job.job_id),
        )  # fmt: skip
        job.payload["_response"] = {**response, "credits_consumed": cost,
                                    "credits_remaining": spent.remaining}  # fmt: skip
        try:
            accepted = await self.intake.accept(job)
        except BaseException:
            await arefund(self.db, spent)
            raise
        if accepted.duplicate:  # the refund carries the same tags: this run id nets to zero
            remaining = await arefund(self.db, spent)
            return Acceptance(accepted.job_id, True, 0, remaining)
        return Acceptance(accepted.job_id, False, cost, spent.remaining)
