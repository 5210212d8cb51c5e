"""Thin handlers: POST /v1/workflows/{workflow_id}/trigger, GET /v1/workflows/jobs/{job_id},
GET /v1/workflows/audit."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator

from aiohttp import web

from bridge.credits.batcher import DebitBatcher
from bridge.credits.service import InsufficientCredits
from bridge.web.appkeys import DB, REDIS, SETTINGS
from bridge.web.auth import principal
from bridge.web.charging import insufficient, note_remaining
from bridge.web.endpoints import EndpointTable
from bridge.web.errors import ApiError
from bridge.web.request_id import REQUEST_ID
from bridge.web.responses import json_model
from bridge.web.validation import parse_body, parse_query
from bridge.workflows import audit
from bridge.workflows.config import load
from bridge.workflows.jobs import JobIntake, read_job
from bridge.workflows.models import (
    AuditEntry,
    AuditQuery,
    AuditResponse,
    StepProgress,
    WorkflowJobResponse,
    WorkflowTriggerRequest,
    WorkflowTriggerResponse,
)
from bridge.workflows.runner import public_progress
from bridge.workflows.service import UnknownWorkflow, WorkflowService

WORKFLOWS = web.AppKey("workflows", WorkflowService)


class _WorkflowEndpoints(EndpointTable):
    def install(self, app: web.Application) -> None:
        super().install(app)
        app.cleanup_ctx.append(_service)


async def _service(app: web.Application) -> AsyncIterator[None]:
    definitions = load(app[SETTINGS].workflows_config)
    app[WORKFLOWS] = WorkflowService(
        app[DB], JobIntake(app[REDIS]), DebitBatcher(app[DB]), definitions
    )
    yield


routes = _WorkflowEndpoints(tags=("Workflows",))


@routes.post(
    "/v1/workflows/{workflow_id}/trigger",
    summary="Trigger workflow",
    description="Triggers a configured workflow (config/workflows.yaml: named step lists of "
    "enrich, match, push_salesforce, assign, convert, push_url) for one record from an external "
    "system. "
    "The trigger is durably queued in Redis and answered at once (`status: queued`); workers "
    "run the steps in order with exponential-backoff retries. Follow the job at "
    "`GET /v1/workflows/jobs/{enrichment_job_id}`. A repeated `Idempotency-Key` is answered "
    "with the first job (`cached: true`, no charge).",
    area="workflows",
    credits="1 credit per record, +2 with enrichment, +1 with routing (an assign step, or a "
    "convert step with set_owner_round_robin_pool)",
    body=WorkflowTriggerRequest,
    response=WorkflowTriggerResponse,
    responses={404: "No workflow with this id"},
)
async def trigger(request: web.Request) -> web.Response:
    started = time.perf_counter()
    workflow_id = request.match_info["workflow_id"]
    service = request.app[WORKFLOWS]
    try:
        service.definition(workflow_id)
    except UnknownWorkflow:
        raise ApiError(404, "Workflow not found", details={"workflow_id": workflow_id}) from None
    body = await parse_body(request, WorkflowTriggerRequest)
    rid, tenant_id = request[REQUEST_ID], principal(request).tenant_id
    key = request.headers.get("Idempotency-Key")
    answer = {"success": True, "status": "queued", "request_id": rid,
              "workflow_id": workflow_id, "cached": False}  # fmt: skip
    so_far = round((time.perf_counter() - started) * 1000)
    try:
        accepted = await service.trigger(
            tenant_id, workflow_id, body, request_id=rid,
            dedupe_key=key[:255] if key else None,
            response={**answer, "processing_time_ms": so_far},
        )  # fmt: skip
    except InsufficientCredits as exc:
        raise insufficient(exc) from None
    remaining = await note_remaining(request, tenant_id, accepted.credits_remaining)
    return json_model(WorkflowTriggerResponse(
        **{**answer, "cached": accepted.duplicate},
        processing_time_ms=round((time.perf_counter() - started) * 1000),
        enrichment_job_id=accepted.job_id, credits_consumed=accepted.credits_consumed,
        credits_remaining=remaining,
    ))  # fmt: skip


@routes.get(
    "/v1/workflows/jobs/{job_id}",
    summary="Workflow job",
    description="Progress and outcome of a triggered workflow: each step in order (pending, "
    "done, skipped, failed, with what it did), attempts so far, the last error.",
    area="workflows",
    response=WorkflowJobResponse,
    responses={404: "No such job for this tenant (or it expired after 7 days)"},
)
async def job(request: web.Request) -> web.Response:
    job_id = request.match_info["job_id"]
    state = await read_job(request.app[REDIS], job_id)
    if state is None or state.tenant_id != principal(request).tenant_id:
        raise ApiError(404, "Job not found", details={"job_id": job_id})
    return json_model(WorkflowJobResponse(
        success=state.state != "failed", job_id=job_id, workflow_id=state.workflow_id,
        status=state.state, attempts=state.attempts, error=state.error,
        record_id=state.record_id,
        steps=[StepProgress.model_validate(public_progress(s)) for s in state.steps],
    ))  # fmt: skip


@routes.get(
    "/v1/workflows/audit",
    summary="Workflow audit log",
    description="The audit trail of workflow triggers (request and response) and of each "
    "job's steps, oldest first; personal data redacted.",
    area="workflows",
    query=AuditQuery,
    response=AuditResponse,
)
async def audit_log(request: web.Request) -> web.Response:
    q = parse_query(request, AuditQuery)
    rows = await asyncio.to_thread(
        audit.query, request.app[DB], principal(request).tenant_id,
        job_id=q.job_id, workflow_id=q.workflow_id, limit=q.limit,
    )  # fmt: skip
    return json_model(AuditResponse(success=True, entries=[AuditEntry(**r) for r in rows]))
