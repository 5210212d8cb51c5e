"""The beat job `logs.cleanup_due` run in-process with test settings: it deletes what is past
each due tenant's period, counts it in the metric, keeps one run at a time with a Redis lock
that only its owner releases, and one tenant's failure does not block the tenants after it."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import redis
from sqlalchemy import insert, select
from structlog.testing import capture_logs

from bridge.db import Database
from bridge.logs import retention
from bridge.logs.tables import RouteLog
from bridge.metrics.recorder import RECORDER, field_for
from bridge.tenants import service as tenants
from config.settings import get_settings
from workers import resources
from workers.schedule import beat_schedule
from workers.tasks import logs as cleanup_task

DELETED = field_for("bridge_route_logs_deleted_total", {})


@pytest.fixture
def job_env(
    monkeypatch: pytest.MonkeyPatch, redis_url: str, database_url: str
) -> Iterator[Database]:
    """The worker's settings and resources pointed at the test's Redis and database."""
    monkeypatch.setenv("REDIS_URL", redis_url)
    monkeypatch.setenv("DATABASE_URL", database_url)
    monkeypatch.delenv("BRIDGE_CELERY_BROKER_URL", raising=False)
    get_settings.cache_clear()
    resources.close_resources()
    RECORDER.drain()
    db = Database(database_url)
    yield db
    db.dispose()
    resources.close_resources()
    get_settings.cache_clear()
    RECORDER.drain()


def add_rows(db: Database, tenant_id: int, ages_days: list[float], tag: str) -> None:
    now = datetime.now(UTC)
    with db.session() as s:
        s.execute(
            insert(RouteLog),
            [{"tenant_id": tenant_id, "timestamp": now - timedelta(days=age), "object": "Lead",
              "object_id": f"{tag}-{n}", "action": "assign"} for n, age in enumerate(ages_days)],
        )  # fmt: skip


def remaining(db: Database, tenant_id: int) -> set[str]:
    with db.session() as s:
        return set(s.scalars(select(RouteLog.object_id).where(RouteLog.tenant_id == tenant_id)))


def three_tenants(db: Database) -> list[int]:
    """Due now in any zone (cleanup hour 0 via settings): 30-day periods, two old rows and one
    recent row each."""
    ids = []
    for name in ("acme", "globex", "initech"):
        tenant_id = tenants.create_key(db, name).tenant_id
        retention.set_policy(db, tenant_id, 30, "UTC")
        add_rows(db, tenant_id, [400, 31, 2], name)
        ids.append(tenant_id)
    return ids


@pytest.fixture
def due_now(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BRIDGE_LOG_CLEANUP_HOUR", "0")
    get_settings.cache_clear()


def test_deletes_counts_and_releases_the_lock(
    job_env: Database, due_now: None, client: redis.Redis
) -> None:
    acme, globex, initech = three_tenants(job_env)
    done = cleanup_task.cleanup_due()
    assert [(d["tenant_id"], d["rows_deleted"]) for d in done] == [
        (acme, 2), (globex, 2), (initech, 2)
    ]  # fmt: skip
    for tenant_id, name in ((acme, "acme"), (globex, "globex"), (initech, "initech")):
        assert remaining(job_env, tenant_id) == {f"{name}-2"}
        assert retention.get_policy(job_env, tenant_id).last_cleanup_rows == 2
    counters, _ = RECORDER.drain()
    assert counters[DELETED] == 6
    assert client.get(cleanup_task.LOCK_KEY) is None  # released
    assert cleanup_task.cleanup_due() == []  # cleaned today: nobody is due again


def test_a_second_run_waits_for_the_lock(
    job_env: Database, due_now: None, client: redis.Redis
) -> None:
    (acme, *_) = three_tenants(job_env)
    client.set(cleanup_task.LOCK_KEY, "another-run", ex=60)
    assert cleanup_task.cleanup_due() == []
    assert remaining(job_env, acme) == {"acme-0", "acme-1", "acme-2"}
    assert client.get(cleanup_task.LOCK_KEY) == b"another-run"  # not ours to release


def test_a_failing_tenant_does_not_block_the_next(
    job_env: Database, due_now: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    acme, globex, initech = three_tenants(job_env)
    real_cleanup = retention.cleanup

    def cleanup(db: Database, tenant: retention.DueTenant, *args: Any) -> Any:
        if tenant.tenant_id == globex:
            raise RuntimeError("database refused")
        return real_cleanup(db, tenant, *args)

    monkeypatch.setattr(retention, "cleanup", cleanup)
    done = cleanup_task.cleanup_due()
    assert done[1] == {"tenant_id": globex, "error": "RuntimeError"}
    assert remaining(job_env, acme) == {"acme-2"}
    assert remaining(job_env, initech) == {"initech-2"}  # after the failure, still cleaned
    assert remaining(job_env, globex) == {"globex-0", "globex-1", "globex-2"}
    assert RECORDER.drain()[0][DELETED] == 4
    # The failed tenant stays due and the next check cleans it.
    monkeypatch.setattr(retention, "cleanup", real_cleanup)
    assert [d["tenant_id"] for d in cleanup_task.cleanup_due()] == [globex]
    assert remaining(job_env, globex) == {"globex-2"}


def test_an_expired_lock_taken_by_another_run_is_left_alone(
    job_env: Database, due_now: None, monkeypatch: pytest.MonkeyPatch, client: redis.Redis
) -> None:
    acme, globex, _ = three_tenants(job_env)
    real_cleanup = retention.cleanup

    def slow_cleanup(db: Database, tenant: retention.DueTenant, *args: Any) -> Any:
        # This run's lock lapses during the first tenant and another run takes it.
        client.set(cleanup_task.LOCK_KEY, "another-run", ex=60)
        return real_cleanup(db, tenant, *args)

    monkeypatch.setattr(retention, "cleanup", slow_cleanup)
    with capture_logs() as logged:
        done = cleanup_task.cleanup_due()
    assert [d["tenant_id"] for d in done] == [acme]  # the other run carries on with the rest
    assert remaining(job_env, globex) == {"globex-0", "globex-1", "globex-2"}
    assert client.get(cleanup_task.LOCK_KEY) == b"another-run"
    # One warning for the one event: a lost lock is not released (and reported) again.
    warnings = [e["event"] for e in logged if e["log_level"] == "warning"]
    assert warnings == ["logs.retention.lock_lost"]


def test_beat_schedules_the_job_at_the_check_interval(due_now: None) -> None:
    entry = beat_schedule(get_settings())["route-log-cleanup"]
    assert entry["task"] == cleanup_task.cleanup_due.name == "logs.cleanup_due"
    assert entry["schedule"] == get_settings().log_cleanup_check_minutes * 60
    assert entry["options"]["expires"] < entry["schedule"]
