"""Real worker processes against a real Redis and SQLite: retries, dead letters, replay,
request ids in worker logs, and no lost task when a worker is killed mid-task."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
import uuid
from pathlib import Path

import pytest
import redis
from structlog.contextvars import clear_contextvars

from bridge.db import Database
from bridge.deadletters import service as deadletters
from config.logging import bind_request_id
from config.settings import Settings
from tests.e2e.conftest import BRIDGE, ROOT, Processes, wait_until
from workers.celery_app import create_celery_app

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(60)]


def publish(env: dict[str, str], name: str, *args: object, request_id: str | None = None) -> str:
    """Publish like the web process does: with a request id bound in the current context."""
    settings = Settings(redis_url=env["REDIS_URL"], database_url=env["DATABASE_URL"])
    app = create_celery_app(settings)
    try:
        if request_id:
            bind_request_id(request_id)
        return str(app.send_task(name, args=list(args)).id)
    finally:
        clear_contextvars()
        app.close()


def json_lines(text: str) -> list[dict[str, object]]:
    lines = []
    for line in text.splitlines():
        try:
            parsed = json.loads(line)
        except ValueError:
            continue
        if isinstance(parsed, dict):
            lines.append(parsed)
    return lines


def key() -> str:
    return uuid.uuid4().hex[:10]


def test_transient_failures_are_retried_with_the_same_request_id(
    processes: Processes, stack_env: dict[str, str], rdb: redis.Redis, database_url: str
) -> None:
    worker = processes.worker(stack_env)
    k = key()
    publish(stack_env, "e2e.flaky", k, 2, request_id="req-flaky-1")
    wait_until(lambda: rdb.get(f"done:{k}"), 20, "the third attempt to succeed")
    assert rdb.get(f"attempts:{k}") == "3"
    attempts = [
        line for line in json_lines(worker.log()) if line.get("event") == "e2e.attempt"
    ]
    assert [line["attempt"] for line in attempts] == [1, 2, 3]
    assert {line["request_id"] for line in attempts} == {"req-flaky-1"}
    db = Database(database_url)
    assert deadletters.count(db) == 0
    db.dispose()


def test_request_id_reaches_the_worker_log(
    processes: Processes, stack_env: dict[str, str], rdb: redis.Redis
) -> None:
    worker = processes.worker(stack_env)
    k = key()
    task_id = publish(stack_env, "e2e.log_request_id", k, request_id="req-from-http-42")
    wait_until(lambda: rdb.get(f"done:{k}"), 15, "the task to run")
    seen = [
        line
        for line in json_lines(worker.log())
        if line.get("event") == "e2e.request_id_seen" and line.get("key") == k
    ]
    assert len(seen) == 1
    assert seen[0]["request_id"] == "req-from-http-42"
    assert seen[0]["task_id"] == task_id


def test_exhausted_task_is_dead_lettered_and_replayed(
    processes: Processes, stack_env: dict[str, str], rdb: redis.Redis, database_url: str
) -> None:
    processes.worker(stack_env)
    k = key()
    task_id = publish(
        stack_env, "e2e.fails_until_fixed", k, {"note": "n-1"}, request_id="req-dead-1"
    )
    db = Database(database_url)
    try:
        wait_until(lambda: deadletters.count(db) == 1, 25, "a dead letter")
        (row,) = deadletters.list_dead_letters(db)
        assert row.task_name == "e2e.fails_until_fixed"
        assert row.task_id == task_id
        assert row.args == [k, {"note": "n-1"}]
        assert row.attempts == 3  # the first try and max_retries=2 retries
        assert rdb.get(f"attempts:{k}") == "3"
        assert row.error.startswith("ConnectionError: upstream down")
        assert row.request_id == "req-dead-1"

        # The operator fixes the cause, then replays with the real command.
        rdb.set(f"fixed:{k}", 1)
        replay = subprocess.run(
            [*BRIDGE, "dead-letters", "replay", str(row.id)],
            env=stack_env, cwd=ROOT, capture_output=True, text=True, timeout=30,
        )  # fmt: skip
        assert replay.returncode == 0, replay.stderr
        assert f"dead letter {row.id} replayed" in replay.stdout
        wait_until(lambda: rdb.get(f"done:{k}") == "n-1", 15, "the replayed task to succeed")
        assert deadletters.get(db, row.id).status == deadletters.REPLAYED

        again = subprocess.run(
            [*BRIDGE, "dead-letters", "replay", str(row.id)],
            env=stack_env, cwd=ROOT, capture_output=True, text=True, timeout=30,
        )  # fmt: skip
        assert again.returncode != 0
        assert "--force" in again.stderr
        listing = subprocess.run(
            [*BRIDGE, "dead-letters", "list", "--status", "all"],
            env=stack_env, cwd=ROOT, capture_output=True, text=True, timeout=30,
        )  # fmt: skip
        assert "e2e.fails_until_fixed" in listing.stdout and "replayed" in listing.stdout
    finally:
        db.dispose()


def test_killed_pool_process_does_not_lose_the_task(
    processes: Processes, stack_env: dict[str, str], rdb: redis.Redis
) -> None:
    """task_reject_on_worker_lost: the pool child dies mid-task, the message is requeued."""
    processes.worker(stack_env, "--concurrency", "1", pool="prefork")
    k = key()
    publish(stack_env, "e2e.slow", k, 2.0)
    wait_until(lambda: rdb.get(f"pid:{k}"), 15, "the task to start")
    os.kill(int(rdb.get(f"pid:{k}")), signal.SIGKILL)
    wait_until(lambda: rdb.get(f"done:{k}"), 20, "the requeued task to finish")
    assert rdb.get(f"started:{k}") == "2"
    assert rdb.get(f"done:{k}") == "1"


def test_worker_killed_mid_task_does_not_lose_it(
    processes: Processes, stack_env: dict[str, str], rdb: redis.Redis, tmp_path: Path
) -> None:
    """task_acks_late: the whole worker is SIGKILLed; the unacked message comes back after the
    visibility timeout and a new worker runs it."""
    env = {
        **stack_env,
        "BRIDGE_BROKER_VISIBILITY_TIMEOUT": "6",
        "BRIDGE_TASK_TIME_LIMIT": "4",
    }
    first = processes.worker(env)
    k = key()
    publish(env, "e2e.slow", k, 3.0)
    wait_until(lambda: rdb.get(f"started:{k}"), 15, "the task to start")
    started_at = time.monotonic()
    processes.kill(first)
    assert rdb.get(f"done:{k}") is None
    assert rdb.hlen("unacked") == 1  # still held for the dead worker, not lost
    # A worker restores unacked messages older than the visibility timeout when it starts.
    time.sleep(max(0.0, started_at + 6.5 - time.monotonic()))
    processes.worker(env)
    wait_until(lambda: rdb.get(f"done:{k}"), 15, "the redelivered task to finish")
    assert rdb.get(f"started:{k}") == "2"
    # The late ack follows the task body's last write, so it may land a moment after `done:`.
    wait_until(lambda: rdb.hlen("unacked") == 0, 10, "the redelivered task to be acked")


def test_backlog_report_counts_queue_and_dead_letters(
    processes: Processes, stack_env: dict[str, str], database_url: str
) -> None:
    db = Database(database_url)
    with db.session() as session:
        deadletters.record(
            session, task_name="x.y", task_id="t", args=[], kwargs={}, error="boom", attempts=3
        )
    db.dispose()
    worker = processes.worker(stack_env)
    publish(stack_env, "housekeeping.report_backlog")

    def reported() -> list[dict[str, object]]:
        return [
            line for line in json_lines(worker.log()) if line.get("event") == "housekeeping.backlog"
        ]

    wait_until(reported, 15, "the backlog report")
    (report,) = reported()
    assert report["dead_letters_open"] == 1
    assert report["queued"] == 0 and report["unacked"] == 1  # the report itself is in flight
