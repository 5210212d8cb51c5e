"""Submitting runs, reading their status, and finding runs to resume.

`submit` writes the run and one row per record in one transaction, then hands the run id to
`publish` (the web door passes Celery's `send_task`; no Celery here). A run whose publish was
lost, or whose worker died, goes silent: `stale` finds it for the beat job that republishes it.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import structlog

from bridge.agents import store
from bridge.agents.models import (
    BatchAccepted,
    DeepResearchBatchRequest,
    PersonBatchRequest,
    RunStatusResponse,
)
from bridge.agents.storage import LocalStore, S3Store, credits_key, result_key
from bridge.agents.tables import AgentRun
from bridge.db import Database
from bridge.db.base import utcnow

log = structlog.get_logger(__name__)

Publish = Callable[[str], None]
RUN_TASK = "agents.run"


class InvalidRunId(ValueError):
    pass


def parse_run_id(raw: str) -> str:
    try:
        return str(uuid.UUID(raw))
    except ValueError:
        raise InvalidRunId(f"not a run id (UUID): {raw[:60]!r}") from None


def submit(
    db: Database,
    storage: LocalStore | S3Store,
    tenant_id: int,
    agent: str,
    body: PersonBatchRequest | DeepResearchBatchRequest,
    publish: Publish,
) -> BatchAccepted:
    run_id = str(uuid.uuid4())
    today = utcnow().date()
    prefix = storage.prefix
    options: dict[str, Any] = {}
    if isinstance(body, DeepResearchBatchRequest):
        options = {
            "query_hint": body.query_hint,
            "effort": body.effort,
            "agent_type": body.agent_type,
        }
    run = AgentRun(
        id=run_id,
        tenant_id=tenant_id,
        agent=agent,
        entity_type=body.entity_type,
        status="queued",
        options=options,
        max_credits=body.max_credits,
        result_path=storage.url(result_key(prefix, agent, body.entity_type, today, run_id)),
        credits_csv_path=storage.url(credits_key(prefix, agent, body.entity_type, today, run_id)),
    )
    with db.session() as session:
        store.add_run(session, run, body.items())
    try:
        publish(run_id)
    except Exception as exc:  # the run is saved: the resume job publishes it within minutes
        log.warning("agents.publish_failed", run_id=run_id, error=type(exc).__name__)
    return BatchAccepted(
        run_id=run_id, result_path=run.result_path, credits_csv_path=run.credits_csv_path
    )


def status(db: Database, tenant_id: int, run_id: str) -> RunStatusResponse | None:
    with db.session() as session:
        run = store.run_for(session, run_id)
        if run is None or run.tenant_id != tenant_id:
            return None
        return RunStatusResponse(
            run_id=run.id,
            status=run.status,
            agent=run.agent,  # type: ignore[arg-type]
            entity_type=run.entity_type,
            total=run.total,
            processed=run.processed,
            found=run.found,
            skipped=run.skipped,
            errors=run.errors,
            not_processed=run.not_processed,
            credits_consumed=run.credits_consumed,
            max_credits=run.max_credits,
            stopped_reason=run.stopped_reason,
            error=run.error,
            result_path=run.result_path,
            credits_csv_path=run.credits_csv_path,
            created_at=run.created_at,
            started_at=run.started_at,
            finished_at=run.finished_at,
        )


def run_paths(db: Database, run_id: str) -> tuple[str, str, str] | None:
    """(status, result_path, credits_csv_path) of a run, for `bridge agents fetch`."""
    with db.session() as session:
        run = store.run_for(session, run_id)
        return None if run is None else (run.status, run.result_path, run.credits_csv_path)


def resume_stale(
    db: Database, stale_after: float, max_resumes: int, publish: Publish
) -> dict[str, int]:
    """Republish queued/running runs silent for `stale_after` s; fail those resumed too often."""
    before = utcnow() - timedelta(seconds=stale_after)
    resumed = failed = 0
    with db.session() as session:
        runs = store.stale_runs(session, before)
        for run in runs:
            run.updated_at = utcnow()  # one republish per silence, not one per beat
            if run.resumes >= max_resumes:
                run.status, run.finished_at = "failed", utcnow()
                run.error = f"gave up after {run.resumes} resumes"
                failed += 1
            else:
                run.resumes += 1
                resumed += 1
        ids = [r.id for r in runs if r.status != "failed"]
    for run_id in ids:
        publish(run_id)
    return {"resumed": resumed, "failed": failed}
