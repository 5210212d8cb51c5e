"""Trigger work on the workers: process a dispatched batch; poll Salesforce for changes."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import requests
import structlog

from bridge.pipeline import Pipeline
from bridge.pipeline_config import StepDeps, build_pipeline
from bridge.pipeline_config import load as load_pipeline_config
from bridge.salesforce.errors import SalesforceError, TransientError
from bridge.salesforce.gateway import SalesforceGateway
from bridge.tenants.service import tenant_for_org
from bridge.triggers.dispatcher import Batch
from bridge.triggers.polling import Poller
from config.settings import get_settings
from workers import resources
from workers.base import TRANSIENT_ERRORS
from workers.celery_app import app
from workers.salesforce import gateway, gateway_getter

log = structlog.get_logger(__name__)


_pipeline: Pipeline | None = None


class SignInSettingsInvalid(Exception):
    """The Salesforce sign-in settings cannot make a gateway (not the pipeline file's fault)."""


def check_pipeline() -> None:
    """Worker start-up (workers.signals): load config/pipeline.yaml and, when a Salesforce
    sign-in is configured, check every field it names against the org's describe.

    A wrong file raises `PipelineConfigError` / `UnknownFields` (both `ValueError`); sign-in
    settings no gateway can be built from raise `SignInSettingsInvalid`. Salesforce out of
    reach is not the file's fault: logged, and the first batch checks again. The check uses a
    gateway of its own, never the process's cached one, and closes it with the Redis and SQL
    connections, so no connection crosses into the pool's forked processes.
    """
    settings = get_settings()
    config = load_pipeline_config(settings.pipeline_config)
    if gateway_getter() is None:
        log.warning("pipeline.not_checked_against_org", reason="no Salesforce sign-in")
        return
    try:
        sf = SalesforceGateway.from_settings(settings)
    except (ValueError, OSError) as exc:  # a bad URL or mode, a missing key or key file
        raise SignInSettingsInvalid(str(exc)) from None
    deps: StepDeps | None = None
    try:
        deps = StepDeps(settings, sf, resources.broker_redis(), resources.database(), config)
        build_pipeline(config, deps)
    except (SalesforceError, OSError, requests.RequestException) as exc:
        log.warning("pipeline.check_deferred", error=type(exc).__name__)
        return
    finally:
        enrichment = deps.shared.get("enrichment") if deps is not None else None
        if enrichment is not None:
            enrichment.close()
        sf.close()
        resources.close_resources()
    log.info("pipeline.config_checked", objects=sorted(config.objects))


def pipeline() -> Pipeline:
    """This process's pipeline, built once from config/pipeline.yaml on first use (the worker
    already checked the file at start-up; each pool process builds its own)."""
    global _pipeline
    if _pipeline is None:
        settings = get_settings()
        config = load_pipeline_config(settings.pipeline_config)
        deps = StepDeps(settings, gateway(), resources.broker_redis(), resources.database(),
                        config)  # fmt: skip
        _pipeline = build_pipeline(config, deps)
    return _pipeline


@app.task(
    name="triggers.process_batch", bind=True, autoretry_for=(*TRANSIENT_ERRORS, TransientError)
)
def process_batch(self: Any, payload: dict[str, Any]) -> dict[str, int]:
    """One dispatched batch (<= 200 ids of one tenant and object) through the pipeline.

    Records still row-locked after the gateway's retries make the task retry (only they are
    redone: the rest are marked processed); on the last attempt they are recorded as failed.
    A dead letter's replay carries `force` to pass the processed-version check.
    """
    final = self.request.retries >= self.max_retries
    # The task id claims the batch's record versions: a redelivery (same id) takes its claim
    # back, a republished copy of the same batch (a new id) does not run beside it. A dead
    # letter's replay claims as the failed run did: a run killed at its time limit never
    # released its claims, and they must not turn the replay into a no-op.
    claimant = self.request.get("replay_of_task") or self.request.id
    result = pipeline().process(
        Batch.from_payload(payload), force=bool(payload.get("force")), final_attempt=final,
        claimant=claimant,
    )  # fmt: skip
    return {
        "requested": result.requested,
        "processed": result.processed,
        "written": result.written,
        "unchanged": result.unchanged,
        "failed": result.failed,
        "skipped_echo": result.skipped_echo,
        "skipped_loop_guard": result.skipped_loop_guard,
        "skipped_already_processed": result.skipped_already_processed,
    }


def poller() -> Poller:
    settings = get_settings()
    sf = gateway()
    return Poller(
        resources.database(),
        resources.broker_redis(),
        sf,
        integration_user_id=sf.integration_user_id,
        interval=timedelta(seconds=settings.poll_interval_seconds),
        lookback=timedelta(seconds=settings.poll_lookback_seconds),
        initial_lookback=timedelta(seconds=settings.poll_initial_lookback_seconds),
    )


@app.task(name="triggers.poll_object", max_retries=0)
def poll_object(tenant_id: int, sobject: str) -> dict[str, Any]:
    """One poll of one object; a failed poll is retried by the next scheduled one."""
    outcome = poller().poll(tenant_id, sobject)
    return {
        "ran": outcome.ran,
        "accepted": outcome.accepted,
        "queries": outcome.queries,
        "skipped_loop_guard": outcome.skipped_loop_guard,
        "error": outcome.error,
    }


@app.task(name="triggers.poll_all", max_retries=0)
def poll_all() -> int:
    """Beat, every poll interval: one poll task per enabled object of the connected org."""
    org_id = gateway().org_id
    tenant_id = tenant_for_org(resources.database(), org_id) if org_id else None
    if tenant_id is None:
        log.warning("polling skipped: the connected org belongs to no tenant", org_id=org_id)
        return 0
    expires = get_settings().poll_interval_seconds
    for sobject in get_settings().poll_objects:
        poll_object.apply_async(args=[tenant_id, sobject], expires=expires)
    return len(get_settings().poll_objects)
