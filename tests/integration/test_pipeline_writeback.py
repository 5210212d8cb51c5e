"""The configured pipeline against the sandbox: enrich, write back only what changes (one
collection call per batch), policies, conditions, route logs, row locks retried, permanent
refusals recorded while the rest succeed, a processed batch writes nothing again."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import redis
from sqlalchemy import select
from structlog.testing import capture_logs

from bridge.db import Database
from bridge.deadletters import service as deadletters
from bridge.logs.tables import RouteLog
from bridge.pipeline import Pipeline, WriteBackPending
from bridge.pipeline_config import PipelineConfigError, StepDeps, build_pipeline, load
from bridge.salesforce.connection import RetryPolicy
from bridge.salesforce.errors import UnknownFields
from bridge.salesforce.gateway import SalesforceGateway
from bridge.tenants import service as tenants
from bridge.triggers.dispatcher import Batch, BatchItem
from config.settings import Settings
from tests.conftest import sandbox_overrides, with_sandbox
from tests.integration.test_enrich_upstream_server import RunningUpstream, UpstreamServer

LEAD_FIELDS = "Id, Phone, Email, Website, Country, Title, Company_Domain__c, Enrichment_Status__c"


@pytest.fixture
def upstream() -> Iterator[UpstreamServer]:
    server = UpstreamServer(balance=1000)
    with RunningUpstream(server):
        yield server


@pytest.fixture
def tenant_id(db: Database) -> int:
    return tenants.create_key(db, "acme").tenant_id


@pytest.fixture
def env(sandbox: Any, settings: Settings, upstream: UpstreamServer, db: Database) -> Iterator[Any]:
    cfg = with_sandbox(
        settings,
        sandbox,
        enrich_upstream_url=upstream.url,
        enrich_upstream_api_key=upstream.api_key,
    )
    gateway = SalesforceGateway.from_settings(
        cfg, retry=RetryPolicy(max_retries=1, base_delay=0.01, max_delay=0.02)
    )
    client = redis.Redis.from_url(cfg.redis_url)

    def build(config_path: Path | None = None, **overrides: Any) -> Pipeline:
        config = load(config_path)
        deps = StepDeps(cfg.model_copy(update=overrides), gateway, client, db, config)
        pipeline: Pipeline = build_pipeline(config, deps)
        return pipeline

    env = type("Env", (), {"gateway": gateway, "redis": client, "build": build, "sbx": sandbox})
    yield env
    sandbox.clear_faults()
    client.close()
    gateway.close()


def human(sandbox: Any) -> str:
    users = sandbox.salesforce().query("SELECT Id FROM User WHERE IsActive = true")["records"]
    humans = [u["Id"] for u in users if u["Id"] != sandbox.integration_user_id]
    if not humans:
        sandbox.seed(users=2, seed=5)
        return human(sandbox)
    return str(humans[0])


def batch(tenant_id: int, ids: list[str], request_id: str = "req-1") -> Batch:
    return Batch(
        tenant_id, "Lead", [BatchItem(i, request_id, "webhook", "after_insert") for i in ids]
    )


def leads(sandbox: Any, ids: list[str]) -> dict[str, dict[str, Any]]:
    quoted = ", ".join(f"'{i}'" for i in ids)
    sf = sandbox.salesforce()
    rows = sf.query(f"SELECT {LEAD_FIELDS} FROM Lead WHERE Id IN ({quoted})")["records"]  # noqa: S608
    return {r["Id"]: r for r in rows}


def updates(env: Any) -> int:
    return env.gateway.calls_by_operation.get("update", 0)


def route_logs(db: Database, tenant_id: int) -> list[RouteLog]:
    with db.session() as session:
        rows = session.scalars(select(RouteLog).where(RouteLog.tenant_id == tenant_id))
        return sorted(rows, key=lambda r: r.id)


def test_enrich_writes_changed_fields_once_under_policies(env, db, tenant_id) -> None:
    rep = human(env.sbx)
    create = env.sbx.create
    a = create(
        "Lead",
        {
            "LastName": "Ames",
            "Company": "Acme",
            "Phone": "(415) 555-0123",
            "Email": "Ann.Ames@ACME.io",
            "Country": "Canada",
        },
        as_user=rep,
    )
    b = create(
        "Lead",
        {
            "LastName": "Bo",
            "Company": "Acme",
            "Email": "bo@acme.io",
            "Website": "https://keep.example.com",
        },
        as_user=rep,
    )
    c = create("Lead", {"LastName": "Cy", "Company": "Cy Ltd"}, as_user=rep)  # nothing to derive
    pipeline = env.build()
    before = updates(env)
    result = pipeline.process(batch(tenant_id, [a, b, c]))
    assert updates(env) - before == 1  # one collection call for the whole batch
    assert result.written == 2 and result.unchanged == 1 and result.processed == 3
    rows = leads(env.sbx, [a, b, c])
    assert rows[a]["Phone"] == "+14155550123"  # overwrite policy: E.164
    assert rows[a]["Email"] == "Ann.Ames@acme.io"
    assert rows[a]["Company_Domain__c"] == "acme.io" and rows[a]["Website"] == "https://acme.io"
    assert rows[a]["Country"] == "Canada"  # fill-only: a value is never overwritten
    assert rows[a]["Enrichment_Status__c"] == "Enriched"
    assert rows[b]["Website"] == "https://keep.example.com"  # fill-only again
    assert rows[b]["Company_Domain__c"] == "example.com"  # the website beats the email
    assert rows[c]["Enrichment_Status__c"] is None
    logs = {r.object_id: r for r in route_logs(db, tenant_id)}
    assert set(logs) == {a, b}
    assert logs[a].action == "enrich" and logs[a].request_id == "req-1"
    assert logs[a].reason == "webhook:after_insert"
    assert logs[a].diff["Phone"] == {
        "old": "(415) 555-0123",
        "new": "+14155550123",
        "provider": "offline",
        "confidence": 0.95,
    }
    assert "Country" not in logs[a].diff and "Website" not in logs[b].diff

    # The same batch again: versions already processed (and the loop guard): nothing written.
    assert pipeline.process(batch(tenant_id, [a, b, c])).written == 0
    # Even forced past both guards, enrichment finds nothing left to change: no write call.
    forced = Pipeline(
        env.gateway,
        env.redis,
        integration_user_id=None,
        steps=pipeline.stages,
        write_back=pipeline.write_back,
        db=db,
    )
    again = forced.process(batch(tenant_id, [a, b, c]), force=True)
    assert again.written == 0 and again.unchanged == 3
    assert updates(env) - before == 1
    assert len(route_logs(db, tenant_id)) == 2


def test_conditions_select_records(env, tenant_id) -> None:
    rep = human(env.sbx)
    open_lead = env.sbx.create(
        "Lead", {"LastName": "Op", "Company": "X", "Phone": "+1 415 555 0199"}, as_user=rep
    )
    converted = env.sbx.create(
        "Lead", {"LastName": "Cv", "Company": "X", "Phone": "+1 415 555 0198"}, as_user=rep
    )
    env.sbx.update("Lead", converted, {"IsConverted": True}, system=True, as_user=rep)
    result = env.build().process(batch(tenant_id, [open_lead, converted]))
    assert result.written == 1
    rows = leads(env.sbx, [open_lead, converted])
    assert rows[open_lead]["Phone"] == "+14155550199"
    assert rows[converted]["Phone"] == "+1 415 555 0198"


def test_locked_rows_retried_permanent_refusal_recorded_rest_written(
    env, db, tenant_id, upstream
) -> None:
    rep = human(env.sbx)
    # The upstream knows Dee's title, but it is longer than Lead.Title allows (128): the org
    # refuses that record for good (STRING_TOO_LONG).
    upstream.add_person("Dee", "Long", "long.io", title="Principal " * 15)
    upstream.add_person("Eve", "Lock", "lock.io", title="CTO")
    ids = [
        env.sbx.create(
            "Lead",
            {"FirstName": "Eve", "LastName": "Lock", "Company": "L", "Email": "eve@lock.io"},
            as_user=rep,
        ),
        env.sbx.create(
            "Lead",
            {"FirstName": "Dee", "LastName": "Long", "Company": "L", "Email": "dee@long.io"},
            as_user=rep,
        ),
        env.sbx.create(
            "Lead",
            {"LastName": "Fay", "Company": "F", "Phone": "020 7946 0000", "Country": "GB"},
            as_user=rep,
        ),
    ]
    # Eve (first record of every write) stays locked past the gateway's own retry.
    env.sbx.add_fault(
        kind="UNABLE_TO_LOCK_ROW_RECORDS",
        path="composite/sobjects",
        method="PATCH",
        times=2,
        record_indexes=[0],
    )
    pipeline = env.build()
    with pytest.raises(WriteBackPending):
        pipeline.process(batch(tenant_id, ids))
    rows = leads(env.sbx, ids)
    assert rows[ids[0]]["Title"] is None  # still locked
    assert rows[ids[1]]["Title"] is None  # refused
    assert rows[ids[2]]["Phone"] == "+442079460000"  # the rest of the batch went through
    (letter,) = [d for d in deadletters.list_dead_letters(db) if d.tenant_id == tenant_id]
    assert letter.task_name == "triggers.process_batch" and "STRING_TOO_LONG" in letter.error
    assert letter.args[0]["items"][0][0] == ids[1] and letter.args[0]["force"] is True
    errors = [r for r in route_logs(db, tenant_id) if r.action == "error"]
    assert [r.object_id for r in errors] == [ids[1]]
    assert errors[0].diff["attempted"]["enrich"]["Title"]["provider"] == "upstream"

    # The task's retry: only the locked record is redone, and now it goes through.
    retry = pipeline.process(batch(tenant_id, ids))
    assert retry.written == 1 and retry.processed_ids == [ids[0]]
    assert leads(env.sbx, [ids[0]])[ids[0]]["Title"] == "CTO"
    # The refused record is not retried automatically (its dead letter can be replayed).
    assert retry.skipped_already_processed + retry.skipped_loop_guard == 2


def test_last_attempt_records_locked_rows_instead_of_retrying(env, db, tenant_id) -> None:
    rep = human(env.sbx)
    lead = env.sbx.create(
        "Lead", {"LastName": "Gil", "Company": "G", "Phone": "+1 212 555 0101"}, as_user=rep
    )
    env.sbx.add_fault(
        kind="UNABLE_TO_LOCK_ROW_RECORDS",
        path="composite/sobjects",
        method="PATCH",
        times=2,
        record_indexes=[0],
    )
    result = env.build().process(batch(tenant_id, [lead]), final_attempt=True)
    assert result.failed == 1 and result.pending == 0
    assert "UNABLE_TO_LOCK_ROW" in deadletters.list_dead_letters(db)[0].error


def test_eu_lead_is_not_sent_to_a_non_gdpr_safe_upstream(env, tenant_id, upstream) -> None:
    rep = human(env.sbx)
    upstream.add_person("Hans", "Meier", "firma.de", title="Leiter Vertrieb")
    upstream.add_person("Ida", "Us", "corp.us", title="VP Sales")
    hans = env.sbx.create(
        "Lead",
        {
            "FirstName": "Hans",
            "LastName": "Meier",
            "Company": "Firma",
            "Email": "hans@firma.de",
            "Phone": "+49 30 1234567",
        },
        as_user=rep,
    )
    ida = env.sbx.create(
        "Lead",
        {"FirstName": "Ida", "LastName": "Us", "Company": "Corp", "Email": "ida@corp.us"},
        as_user=rep,
    )
    env.build().process(batch(tenant_id, [hans, ida]))
    asked = {body["last_name"] for body in upstream.seen()}
    assert asked == {"Us"}
    rows = leads(env.sbx, [hans, ida])
    assert rows[hans]["Title"] is None and rows[hans]["Phone"] == "+49301234567"
    assert rows[ida]["Title"] == "VP Sales"


def test_a_batch_holds_its_claims_twice_the_configured_task_time_limit(env) -> None:
    # A task is killed at its hard limit; its claims must not expire while it still runs.
    assert env.build(task_time_limit=60).claim_ttl_seconds == 120


def test_config_is_checked_against_the_org_and_the_step_registry(env, tmp_path) -> None:
    bad_field = tmp_path / "bad_field.yaml"
    bad_field.write_text(
        "objects:\n  Lead:\n    steps: [{name: enrich}]\n"
        "    write_back: {phone: {field: Phone__nope}}\n"
    )
    with pytest.raises(UnknownFields, match="Phone__nope"):
        env.build(bad_field)
    bad_step = tmp_path / "bad_step.yaml"
    bad_step.write_text("objects:\n  Lead:\n    steps: [{name: teleport}]\n")
    with pytest.raises(PipelineConfigError, match="unknown step 'teleport'"):
        env.build(bad_step)
    bad_policy = tmp_path / "bad_policy.yaml"
    bad_policy.write_text("objects:\n  Lead:\n    write_back: {phone: {field: Phone, policy: x}}\n")
    with pytest.raises(PipelineConfigError, match="policy"):
        env.build(bad_policy)
    bad_provider = tmp_path / "bad_provider.yaml"
    bad_provider.write_text("enrichment:\n  field_order: {title: [upstream, clearbit]}\n")
    with pytest.raises(PipelineConfigError, match=r"unknown enrichment provider.*'clearbit'"):
        env.build(bad_provider)


def _start_worker(
    settings: Settings, sandbox: Any, config: Path, log: Path, **sf_overrides: str
) -> Any:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("BRIDGE_", "CELERY_"))}
    env.update(
        REDIS_URL=settings.redis_url,
        DATABASE_URL=settings.database_url,
        BRIDGE_DATA_DIR=str(settings.data_dir),
        BRIDGE_ENVIRONMENT="test",
        BRIDGE_PIPELINE_CONFIG=str(config),
        PYTHONPATH=str(Path(__file__).resolve().parents[2]),
    )
    overrides = {**sandbox_overrides(sandbox), **sf_overrides}
    env.update({f"BRIDGE_{k.upper()}": str(v) for k, v in overrides.items()})
    with log.open("wb") as out:
        return subprocess.Popen(
            [sys.executable, "-m", "bridge", "worker", "--pool", "solo"],
            env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True,
        )  # fmt: skip


def test_worker_start_checks_the_config_against_the_org(
    sandbox: Any, settings: Settings, tmp_path: Path
) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text(
        "objects:\n  Lead:\n    steps: [{name: enrich}]\n"
        "    write_back: {phone: {field: Phone__nope}}\n"
    )
    log = tmp_path / "bad-worker.log"
    worker = _start_worker(settings, sandbox, bad, log)
    try:
        assert worker.wait(60) != 0  # the worker does not start on a wrong field name
    finally:
        worker.kill()
    assert "worker.pipeline_config_invalid" in log.read_text()
    assert "Lead has no field(s): Phone__nope" in log.read_text()

    good = tmp_path / "good.yaml"
    good.write_text(
        "objects:\n  Lead:\n    steps: [{name: enrich}]\n    write_back: {phone: {field: Phone}}\n"
    )
    # Sign-in settings no gateway can be built from are reported as what they are.
    log = tmp_path / "bad-sign-in.log"
    plain_http = sandbox.instance_url.replace("https://", "http://")
    worker = _start_worker(settings, sandbox, good, log, sf_instance_url=plain_http)
    try:
        assert worker.wait(60) != 0
    finally:
        worker.kill()
    assert "worker.salesforce_signin_invalid" in log.read_text()
    assert "Salesforce URLs must be https://" in log.read_text()
    assert "worker.pipeline_config_invalid" not in log.read_text()

    log = tmp_path / "good-worker.log"
    worker = _start_worker(settings, sandbox, good, log)
    try:
        deadline = time.monotonic() + 60
        while " ready." not in log.read_text() and worker.poll() is None:
            assert time.monotonic() < deadline, log.read_text()
            time.sleep(0.2)
        assert worker.poll() is None and "pipeline.config_checked" in log.read_text()
    finally:
        worker.terminate()
        worker.wait(20)


def _check_pipeline_in_process(
    settings: Settings,
    sandbox: Any,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    **sf_overrides: object,
) -> None:
    """The worker's start-up check, run here with the worker's environment (a good file)."""
    from config.settings import get_settings
    from workers import resources
    from workers.tasks import triggers

    good = tmp_path / "good.yaml"
    good.write_text("objects:\n  Lead:\n    write_back: {phone: {field: Phone}}\n")
    monkeypatch.setenv("REDIS_URL", settings.redis_url)
    monkeypatch.setenv("DATABASE_URL", settings.database_url)
    monkeypatch.setenv("BRIDGE_DATA_DIR", str(settings.data_dir))
    monkeypatch.setenv("BRIDGE_PIPELINE_CONFIG", str(good))
    for key, value in {**sandbox_overrides(sandbox), **sf_overrides}.items():
        monkeypatch.setenv(f"BRIDGE_{key.upper()}", str(value))
    get_settings.cache_clear()
    try:
        triggers.check_pipeline()
    finally:
        get_settings.cache_clear()
        resources.close_resources()


def test_the_start_up_check_closes_its_own_gateway(
    sandbox: Any, settings: Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """In-process: the check signs in and reads the describe with a gateway of its own, closes
    it, and leaves the process's cached gateway unopened (the pool forks after it)."""
    from workers import salesforce as worker_sf

    monkeypatch.setattr(worker_sf, "_gateway", None)
    built: list[SalesforceGateway] = []
    closed: list[SalesforceGateway] = []
    real_from_settings = SalesforceGateway.from_settings.__func__  # type: ignore[attr-defined]
    real_close = SalesforceGateway.close

    def from_settings(cls: type[SalesforceGateway], *args: Any, **kwargs: Any) -> Any:
        built.append(real_from_settings(cls, *args, **kwargs))
        return built[-1]

    def close(self: SalesforceGateway) -> None:
        closed.append(self)
        real_close(self)

    monkeypatch.setattr(SalesforceGateway, "from_settings", classmethod(from_settings))
    monkeypatch.setattr(SalesforceGateway, "close", close)
    _check_pipeline_in_process(settings, sandbox, tmp_path, monkeypatch)
    assert len(built) == 1 and closed == built
    assert built[0].calls_by_operation  # it did talk to the org (sign-in, describe)
    assert worker_sf._gateway is None


def test_the_start_up_check_defers_while_salesforce_is_out_of_reach(
    sandbox: Any, settings: Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Not the file's fault: the check logs it and returns, and the worker starts."""
    with socket.socket() as sock:  # a port nothing listens on: connection refused
        sock.bind(("127.0.0.1", 0))
        closed = f"https://127.0.0.1:{sock.getsockname()[1]}"
    with capture_logs() as logs:
        _check_pipeline_in_process(settings, sandbox, tmp_path, monkeypatch,
                                   sf_instance_url=closed, sf_max_retries=0)  # fmt: skip
    events = [e["event"] for e in logs]
    assert "pipeline.check_deferred" in events and "pipeline.config_checked" not in events
