"""Agent result storage: the local directory and S3 (moto's standalone server on a local port,
reached by boto3 through `endpoint_url`), a failed run, `bridge agents fetch`, and the
never-charge-twice guard on SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
from click.testing import CliRunner
from moto.server import ThreadedMotoServer

from bridge.agents import runner, service
from bridge.agents.models import PersonBatchRequest
from bridge.agents.storage import LocalStore, S3Store, StorageError, key_of, store_from_settings
from bridge.cli import main
from bridge.credits import service as credits
from bridge.db import Database
from bridge.embedded_redis import free_port
from bridge.tenants import service as tenants
from config.settings import Settings, get_settings
from tests.integration.test_agents_harness import harness, read_csv
from tests.integration.test_enrich_upstream_server import RunningUpstream, UpstreamServer

KEYS = {"agents_s3_access_key_id": "testing", "agents_s3_secret_access_key": "testing"}
RECORDS = [
    {
        "id": "p1",
        "first_name": "Grace",
        "last_name": "Hopper",
        "company_name": "Navy",
        "company_url": "navy.mil",
    },
    {
        "id": "p2",
        "first_name": "Ada",
        "last_name": "Lovelace",
        "company_name": "Engines",
        "company_url": "engines.io",
    },
    {"id": "p3", "first_name": "Alan"},
]


@pytest.fixture(scope="module")
def s3_endpoint() -> Iterator[str]:
    port = free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    yield f"http://127.0.0.1:{port}"
    server.stop()


@pytest.fixture
def upstream() -> Iterator[UpstreamServer]:
    server = UpstreamServer(balance=10_000)
    server.add_person("Grace", "Hopper", "navy.mil", email="grace@navy.mil")
    with RunningUpstream(server):
        yield server


def configured(settings: Settings, upstream: UpstreamServer, **extra: Any) -> Settings:
    values = settings.model_dump() | {
        "enrich_upstream_url": upstream.url,
        "enrich_upstream_api_key": upstream.api_key,
        **extra,
    }
    return Settings(_env_file=None, **values)  # type: ignore[call-arg]


def tenant(db: Database, grant: int = 100) -> int:
    created = tenants.create_key(db, "acme")
    credits.grant(db, created.tenant_id, grant)
    return created.tenant_id


def submit(db: Database, settings: Settings, tenant_id: int, body: dict[str, Any]) -> Any:
    published: list[str] = []
    accepted = service.submit(
        db,
        store_from_settings(settings),
        tenant_id,
        "email",
        PersonBatchRequest.model_validate(body),
        published.append,
    )
    assert published == [accepted.run_id]
    return accepted


def s3_client(endpoint: str) -> Any:
    return boto3.client(
        "s3",
        endpoint_url=endpoint,
        region_name="us-east-1",
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )


def test_s3_storage_and_cli_fetch(settings, db, upstream, s3_endpoint, tmp_path, monkeypatch):
    s3_client(s3_endpoint).create_bucket(Bucket="results")
    s3 = configured(
        settings,
        upstream,
        agents_s3_bucket="results",
        agents_s3_prefix="bridge/",
        agents_s3_endpoint_url=s3_endpoint,
        **KEYS,
    )
    tenant_id = tenant(db)
    accepted = submit(db, s3, tenant_id, {"records": RECORDS, "max_credits": 50})
    assert accepted.result_path.startswith("s3://results/bridge/person/email-enrichment-batch_")
    assert accepted.credits_csv_path.startswith("s3://results/bridge/person/email-enrichment/")
    assert accepted.credits_csv_path.endswith(f"/{accepted.run_id}_credits.csv")
    h = harness(s3, db)
    assert isinstance(h.storage, S3Store)
    h.drive(accepted.run_id)
    key = accepted.result_path.removeprefix("s3://results/")
    body = s3_client(s3_endpoint).get_object(Bucket="results", Key=key)["Body"].read()
    header, rows = read_csv(body)
    assert header[-2:] == ["email", "email_found"]
    assert [(r["id"], r["email"], r["email_found"]) for r in rows] == [
        ("p1", "grace@navy.mil", "true"),
        ("p2", "", "false"),
    ]
    # The operator's command downloads both files of a finished run.
    env = {
        "DATABASE_URL": s3.database_url,
        "REDIS_URL": s3.redis_url,
        "BRIDGE_AGENTS_S3_BUCKET": "results",
        "BRIDGE_AGENTS_S3_PREFIX": "bridge/",
        "BRIDGE_AGENTS_S3_ENDPOINT_URL": s3_endpoint,
        "BRIDGE_AGENTS_S3_ACCESS_KEY_ID": "testing",
        "BRIDGE_AGENTS_S3_SECRET_ACCESS_KEY": "testing",
    }
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    get_settings.cache_clear()
    try:
        result = CliRunner().invoke(
            main, ["agents", "fetch", accepted.run_id, "--dest", str(tmp_path / "out")]
        )
        assert result.exit_code == 0, result.output
        files = sorted(p.name for p in (tmp_path / "out").iterdir())
        assert files == sorted(
            [accepted.result_path.rsplit("/", 1)[1], f"{accepted.run_id}_credits.csv"]
        )
        client = s3_client(s3_endpoint)
        for path in (accepted.result_path, accepted.credits_csv_path):
            stored = client.get_object(Bucket="results", Key=key_of(h.storage, path))["Body"]
            assert (tmp_path / "out" / path.rsplit("/", 1)[1]).read_bytes() == stored.read()
        bad = CliRunner().invoke(main, ["agents", "fetch", "nope"])
        assert bad.exit_code != 0 and "not a run id" in bad.output
    finally:
        get_settings.cache_clear()


def test_missing_bucket_fails_the_run(settings, db, upstream, s3_endpoint) -> None:
    s3 = configured(
        settings,
        upstream,
        agents_s3_bucket="no-such-bucket",
        agents_s3_endpoint_url=s3_endpoint,
        **KEYS,
    )
    tenant_id = tenant(db)
    accepted = submit(db, s3, tenant_id, {"records": RECORDS, "max_credits": 50})
    run_id = accepted.run_id
    assert service.status(db, tenant_id, run_id).status == "queued"  # type: ignore[union-attr]
    h = harness(s3, db)
    assert runner.step(h.ctx, run_id) is True  # first chunk of two records
    assert service.status(db, tenant_id, run_id).status == "running"  # type: ignore[union-attr]
    h.drive(run_id)
    failed = service.status(db, tenant_id, run_id)
    assert failed is not None and failed.status == "failed"
    assert "NoSuchBucket" in (failed.error or "") and failed.finished_at is not None
    assert runner.step(h.ctx, run_id) is False  # a failed run stays failed


def test_local_storage_is_atomic_and_keyed(tmp_path: Path) -> None:
    store = LocalStore(tmp_path / "results")
    url = store.put("person/a/b.csv", b"id\n1\n")
    assert url == (tmp_path / "results" / "person/a/b.csv").resolve().as_uri()
    assert store.get(key_of(store, url)) == b"id\n1\n"
    assert not [p for p in (tmp_path / "results" / "person/a").iterdir() if p.name != "b.csv"]
    with pytest.raises(StorageError):
        key_of(store, (tmp_path / "elsewhere.csv").as_uri())
    with pytest.raises(StorageError):
        store.get("person/missing.csv")
    blocker = tmp_path / "file"
    blocker.write_text("not a directory")
    with pytest.raises(StorageError):
        LocalStore(blocker).put("x.csv", b"")


def test_a_record_is_never_charged_twice(any_database_url: str, upstream, settings) -> None:
    values = settings.model_dump() | {"database_url": any_database_url}
    local = configured(Settings(_env_file=None, **values), upstream)  # type: ignore[call-arg]
    db = Database.from_settings(local)
    try:
        tenant_id = tenant(db)
        accepted = submit(db, local, tenant_id, {"records": RECORDS[:1], "max_credits": 50})
        h = harness(local, db)
        snapshot = runner._Snapshot(service_run(db, accepted.run_id))
        first = runner._settle(
            h.ctx,
            snapshot,
            0,
            "p1",
            "done",
            credits=5,
            provider="upstream",
            outcome="found: email",
            row={"id": "p1"},
            found=True,
        )
        again = runner._settle(
            h.ctx,
            snapshot,
            0,
            "p1",
            "done",
            credits=5,
            provider="upstream",
            outcome="found: email",
            row={"id": "p1"},
            found=True,
        )
        assert (first, again) == (5, 0)
        assert h.debits(accepted.run_id) == [("p1", 5)]
        assert credits.remaining(db, tenant_id) == 95
        h.drive(accepted.run_id)  # the settled record is not worked on again
        assert h.debits(accepted.run_id) == [("p1", 5)]
        assert service.status(db, tenant_id, accepted.run_id).processed == 1  # type: ignore[union-attr]
    finally:
        db.dispose()


def service_run(db: Database, run_id: str) -> Any:
    from bridge.agents import store

    with db.session() as session:
        return store.run_for(session, run_id)


def test_a_lost_publish_is_picked_up_by_the_resume_job(settings, db, upstream) -> None:
    local = configured(settings, upstream)
    tenant_id = tenant(db)

    def broken(run_id: str) -> None:
        raise ConnectionError("broker down")

    body = PersonBatchRequest.model_validate({"records": RECORDS, "max_credits": 50})
    accepted = service.submit(db, store_from_settings(local), tenant_id, "email", body, broken)
    assert service.status(db, tenant_id, accepted.run_id).status == "queued"  # type: ignore[union-attr]
    republished: list[str] = []
    assert service.resume_stale(db, 3600, 5, republished.append) == {"resumed": 0, "failed": 0}
    assert service.resume_stale(db, 0, 5, republished.append) == {"resumed": 1, "failed": 0}
    assert republished == [accepted.run_id]
    # A run republished too often is given up, visibly.
    assert service.resume_stale(db, 0, 1, republished.append) == {"resumed": 0, "failed": 1}
    failed = service.status(db, tenant_id, accepted.run_id)
    assert failed is not None and failed.status == "failed" and "gave up" in (failed.error or "")


def test_an_account_running_dry_stops_the_run(settings, db, upstream) -> None:
    local = configured(settings, upstream)
    tenant_id = tenant(db, grant=3)  # Grace's email would cost 5
    accepted = submit(db, local, tenant_id, {"records": RECORDS, "max_credits": 50})
    h = harness(local, db)
    h.drive(accepted.run_id)
    done = service.status(db, tenant_id, accepted.run_id)
    assert done is not None and done.status == "completed"
    assert done.stopped_reason == "insufficient_credits" and done.not_processed == 3
    assert done.credits_consumed == 0 and h.debits(accepted.run_id) == []
    assert credits.remaining(db, tenant_id) == 3
