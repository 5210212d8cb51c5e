"""Batch agent runs on the workers: one chunk per task, then the task queues the next.

Thin: take the run's lock, call `bridge.agents.runner.step`, queue the next step. The lock
(held at most a task time limit) keeps two deliveries of the same run from working at once;
the per-record "still pending" guard in the runner is what makes a repeat harmless. The beat
job `agents.resume_stale` republishes runs that went silent (a killed worker, a lost publish).
"""

from __future__ import annotations

import contextlib
import os
from typing import Any

import redis
import structlog

from bridge.agents import runner, service
from bridge.agents.deps import AgentServices
from bridge.agents.storage import store_from_settings
from bridge.ai.service import AiService
from bridge.enrichment.service import EnrichmentService
from bridge.pipeline_config import load as load_pipeline_config
from bridge.salesforce.errors import TransientError
from config.settings import get_settings
from workers import resources
from workers.base import TRANSIENT_ERRORS
from workers.celery_app import app
from workers.salesforce import gateway

log = structlog.get_logger(__name__)

_context: tuple[int, runner.RunContext] | None = None


class _LazyGateway:
    """Salesforce is only reached when a run holds ids (inline records need no org)."""

    def fetch(self, sobject: str, record_ids: Any, fields: Any) -> list[dict[str, Any]]:
        return gateway().fetch(sobject, record_ids, fields)


def context() -> runner.RunContext:
    global _context
    if _context is None or _context[0] != os.getpid():
        settings = get_settings()
        cascade = load_pipeline_config(settings.pipeline_config).enrichment.cascade()
        services = AgentServices(
            enrichment=EnrichmentService.from_settings(settings, resources.broker_redis(), cascade),
            ai=AiService.from_settings(settings),
            enrich_budget=settings.enrich_upstream_max_credits,
        )
        ctx = runner.RunContext(
            db=resources.database(),
            fetcher=_LazyGateway(),
            storage=store_from_settings(settings),
            agent_for=services.agent_for,
            chunk_size=settings.agents_chunk_size,
        )
        _context = (os.getpid(), ctx)
    return _context[1]


@app.task(name=service.RUN_TASK, autoretry_for=(*TRANSIENT_ERRORS, TransientError))
def run(run_id: str) -> dict[str, Any]:
    ctx = context()
    lock = resources.broker_redis().lock(
        f"bridge:agents:run:{run_id}:lock", timeout=get_settings().task_time_limit + 5
    )
    if not lock.acquire(blocking=False):
        return {"run_id": run_id, "skipped": "another worker holds the run"}
    try:
        more = runner.step(ctx, run_id)
    except (*TRANSIENT_ERRORS, TransientError):
        raise
    except Exception as exc:  # not curable by a retry: the run fails, visibly
        runner.fail(ctx.db, run_id, f"{type(exc).__name__}: {str(exc)[:300]}")
        raise
    finally:
        # An expired lock (a very slow chunk) has nothing left to release.
        with contextlib.suppress(redis.exceptions.LockError):
            lock.release()
    if more:
        run.apply_async(args=[run_id])
    return {"run_id": run_id, "more": more}


@app.task(name="agents.resume_stale", max_retries=0)
def resume_stale() -> dict[str, int]:
    settings = get_settings()
    return service.resume_stale(
        resources.database(),
        settings.agents_stale_after_seconds,
        settings.agents_max_resumes,
        lambda run_id: run.apply_async(args=[run_id]),
    )
