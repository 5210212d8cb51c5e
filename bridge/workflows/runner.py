"""Running workflow jobs on a worker: drain the stream (and due retries), run each job's steps
in order, record progress in Redis and every outcome in the audit log.

Retries: a transient failure (Salesforce unavailable, network, Redis) puts the job in the
retry set with an exponential delay (base x 2^attempt, with jitter, capped); steps already done
are not redone on the next attempt (their outcome is kept in the job), so a retry is
idempotent per step. Permanent failures and the last attempt end the job as `failed`.
"""

from __future__ import annotations

import random
import time
import traceback
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import structlog

from bridge.db import Database
from bridge.workflows import audit
from bridge.workflows.config import WorkflowDef
from bridge.workflows.jobs import JobState, JobStore
from bridge.workflows.steps import STEPS, JobContext, StepFailed, StepServices
from config.logging import Redactor, bind_request_id

log = structlog.get_logger(__name__)


@dataclass
class RetryPolicy:
    max_attempts: int = 6
    base_seconds: float = 2.0
    max_seconds: float = 600.0

    def delay(self, attempt: int) -> float:
        raw = min(self.max_seconds, self.base_seconds * 2 ** (attempt - 1))
        return raw * (0.5 + random.random() / 2)


class WorkflowRunner:
    def __init__(
        self,
        store: JobStore,
        db: Database,
        workflows: Mapping[str, WorkflowDef],
        services: StepServices,
        *,
        retry: RetryPolicy | None = None,
        redactor: Redactor | None = None,
    ) -> None:
        self.store = store
        self.db = db
        self.workflows = dict(workflows)
        self.services = services
        self.retry = retry or RetryPolicy()
        self.redactor = redactor or Redactor()

    def drain(self, consumer: str, *, limit: int = 200) -> int:
        """Run every due retry and every new job (up to `limit`); returns how many ran."""
        ran = 0
        for job_id in self.store.due_retries(time.time(), limit):
            self.run(job_id)
            ran += 1
        for entry_id, job_id in self.store.read_new(consumer, max(1, limit - ran)):
            self.run(job_id)
            self.store.ack(entry_id)  # the job's own state now carries any retry
            ran += 1
        return ran

    def run(self, job_id: str) -> str:
        job = self.store.get(job_id)
        if job is None or job.state in ("completed", "failed"):
            return "gone" if job is None else job.state  # expired, or a redelivery
        if job.request_id:
            bind_request_id(job.request_id)
        attempt = job.attempts + 1
        self.store.update(job_id, state="running", attempts=attempt)
        entries: list[dict[str, Any]] = []
        if attempt == 1:
            entries += self._trigger_entries(job)
        definition = self.workflows.get(job.workflow_id)
        try:
            if definition is None:
                raise StepFailed(f"workflow {job.workflow_id!r} is no longer configured")
            self._steps(job, definition, entries)
        except StepFailed as exc:
            return self._end(job, "failed", str(exc), entries)
        except Exception as exc:  # transient: retried with backoff
            error = f"{type(exc).__name__}: {exc}"[:500]
            log.warning(
                "workflows.attempt_failed",
                job_id=job_id,
                attempt=attempt,
                error=type(exc).__name__,
                where=traceback.format_exc(limit=2)[-300:],
            )
            if attempt >= self.retry.max_attempts:
                return self._end(job, "failed", error, entries)
            delay = self.retry.delay(attempt)
            self.store.update(job_id, state="retrying", error=error, steps=job.steps)
            self.store.schedule_retry(job_id, time.time() + delay)
            entries.append(
                self._entry(
                    job,
                    "retry",
                    None,
                    {"attempt": attempt, "error": error, "delay_seconds": round(delay, 2)},
                )
            )
            audit.record(self.db, self.redactor, entries)
            return "retrying"
        return self._end(job, "completed", None, entries)

    def _steps(self, job: JobState, definition: WorkflowDef, entries: list[dict[str, Any]]) -> None:
        payload = job.payload
        ctx = JobContext(
            tenant_id=job.tenant_id, object=definition.object,
            record=dict(payload["record_data"]), enrichment=payload.get("enrichment_preferences"),
            request_id=job.request_id or "", job_id=job.job_id,
        )  # fmt: skip
        for index, (spec, progress) in enumerate(zip(definition.steps, job.steps, strict=False)):
            if progress["status"] == "done":
                _restore(ctx, progress["detail"])  # done on an earlier attempt: not redone
                continue
            try:
                detail = STEPS[spec.name](ctx, spec.options, self.services)
            except StepFailed as exc:
                progress.update(status="failed", detail={"error": str(exc)})
                entries.append(self._entry(job, "step", spec.name, progress))
                self.store.update(job.job_id, steps=job.steps)
                raise
            detail["_state"] = {"record": ctx.record, "match": ctx.match,
                                "record_id": ctx.record_id,
                                "conversion": ctx.facts.get("conversion")}  # fmt: skip
            progress.update(status="done", detail=detail)
            entries.append(self._entry(job, "step", spec.name,
                                       {"index": index, **public_progress(progress)}))  # fmt: skip
            self.store.update(job.job_id, steps=job.steps, record_id=ctx.record_id)

    def _end(self, job: JobState, state: str, error: str | None,
             entries: list[dict[str, Any]]) -> str:  # fmt: skip
        self.store.update(job.job_id, state=state, error=error, steps=job.steps)
        entries.append(self._entry(job, "done" if state == "completed" else "failed", None,
                                   {"state": state, "error": error,
                                    "steps": [public_progress(s) for s in job.steps]}))  # fmt: skip
        audit.record(self.db, self.redactor, entries)
        log.info("workflows.job_finished", job_id=job.job_id, workflow=job.workflow_id,
                 state=state)  # fmt: skip
        return state

    def _trigger_entries(self, job: JobState) -> list[dict[str, Any]]:
        return [
            self._entry(job, "request", None, job.payload),
            self._entry(job, "response", None, job.payload.get("_response", {})),
        ]

    @staticmethod
    def _entry(
        job: JobState, kind: str, step: str | None, body: Mapping[str, Any]
    ) -> dict[str, Any]:
        return {"tenant_id": job.tenant_id, "workflow_id": job.workflow_id, "job_id": job.job_id,
                "request_id": job.request_id, "kind": kind, "step": step,
                "body": {k: v for k, v in body.items() if k != "_response"}}  # fmt: skip


def public_progress(progress: Mapping[str, Any]) -> dict[str, Any]:
    detail = {k: v for k, v in progress.get("detail", {}).items() if k != "_state"}
    return {"name": progress["name"], "status": progress["status"], "detail": detail}


def _restore(ctx: JobContext, detail: Mapping[str, Any]) -> None:
    state = detail.get("_state") or {}
    ctx.record = dict(state.get("record") or ctx.record)
    ctx.match = tuple(state["match"]) if state.get("match") else ctx.match  # type: ignore[assignment]
    ctx.record_id = state.get("record_id") or ctx.record_id
    if state.get("conversion"):  # what a later push_url reports
        ctx.facts["conversion"] = state["conversion"]
