"""Process fixtures for e2e tests: a private Redis, child processes that always get cleaned up.

e2e tests run their own embedded Redis rather than the shared one: other test sessions flush the
shared test database, and a worker here must not see or steal anyone else's messages.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import redis

from bridge.embedded_redis import start_embedded_redis

ROOT = Path(__file__).resolve().parents[2]
# The real command, as an installed console script would run it.
BRIDGE = [sys.executable, "-m", "bridge"]


@pytest.fixture(scope="session")
def e2e_redis_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    server = start_embedded_redis(tmp_path_factory.mktemp("e2e-redis"), persistent=False)
    yield server.url
    server.stop()


@pytest.fixture
def broker_url(e2e_redis_server: str) -> str:
    client = redis.Redis.from_url(e2e_redis_server)
    client.flushall()
    client.close()
    return e2e_redis_server


@pytest.fixture
def rdb(broker_url: str) -> Iterator[redis.Redis]:
    client = redis.Redis.from_url(broker_url, decode_responses=True)
    yield client
    client.close()


@pytest.fixture
def stack_env(tmp_path: Path, broker_url: str, database_url: str) -> dict[str, str]:
    """Environment for child processes: this test's Redis and SQLite, fast retries, JSON logs."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("BRIDGE_", "CELERY_"))}
    env.update(
        REDIS_URL=broker_url,
        DATABASE_URL=database_url,
        BRIDGE_DATA_DIR=str(tmp_path / "data"),
        BRIDGE_ENVIRONMENT="test",
        BRIDGE_LOG_LEVEL="INFO",
        BRIDGE_TASK_MAX_RETRIES="2",
        BRIDGE_TASK_RETRY_BACKOFF_MAX="1",
        BRIDGE_TASK_TIME_LIMIT="20",
        BRIDGE_BROKER_VISIBILITY_TIMEOUT="60",
        PYTHONUNBUFFERED="1",
        PYTHONPATH=str(ROOT),
    )
    return env


@dataclass
class Child:
    name: str
    process: subprocess.Popen[bytes]
    log_path: Path

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def wait_for_log(self, needle: str, timeout: float = 20.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if needle in self.log():
                return
            if self.process.poll() is not None:
                break
            time.sleep(0.1)
        raise AssertionError(f"{self.name}: {needle!r} not logged in {timeout}s:\n{self.log()}")


@dataclass
class Processes:
    """Starts children in their own process groups; kills every group at teardown."""

    tmp_path: Path
    children: list[Child] = field(default_factory=list)

    def start(self, name: str, argv: list[str], env: dict[str, str]) -> Child:
        log_path = self.tmp_path / f"{name}-{len(self.children)}.log"
        out = log_path.open("wb")
        process = subprocess.Popen(
            argv, env=env, cwd=ROOT, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
        )
        out.close()
        child = Child(name, process, log_path)
        self.children.append(child)
        return child

    def worker(self, env: dict[str, str], *extra: str, pool: str = "solo") -> Child:
        child = self.start(
            "worker",
            [*BRIDGE, "worker", "-I", "tests.e2e.worker_tasks", "--pool", pool, *extra],
            env,
        )
        child.wait_for_log(" ready.")
        return child

    def kill(self, child: Child, sig: int = signal.SIGKILL) -> None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(child.process.pid, sig)
        child.process.wait(10)

    def stop_all(self) -> None:
        for child in self.children:
            if child.process.poll() is None:
                _signal_group(child.process.pid, signal.SIGTERM)
        for child in self.children:
            with contextlib.suppress(subprocess.TimeoutExpired):
                child.process.wait(8)
            # The group may outlive its leader (pool processes): always sweep it.
            _signal_group(child.process.pid, signal.SIGKILL)
            if child.process.poll() is None:
                child.process.wait(5)


def _signal_group(pgid: int, sig: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, sig)


@pytest.fixture
def processes(tmp_path: Path) -> Iterator[Processes]:
    procs = Processes(tmp_path)
    yield procs
    procs.stop_all()


def wait_until(predicate: Callable[[], object], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.1)
    raise AssertionError(f"timed out after {timeout}s waiting for {what}")


@dataclass
class Connected:
    """A tenant wired to a sandbox org: web and dispatcher running, Apex callouts signed."""

    sandbox: Any
    env: dict[str, str]
    web_url: str
    web: Child
    key: str
    secret: str
    tenant_id: int
    human: str  # an active user who is not the integration user (changes made by people)


@contextlib.contextmanager
def connected_stack(
    tmp_path: Path,
    stack_env: dict[str, str],
    database_url: str,
    processes: Processes,
    extra_env: dict[str, str] | None = None,
    credits_granted: int = 1_000_000,
) -> Iterator[Connected]:
    from bridge.credits import service as credits
    from bridge.db import Database
    from bridge.embedded_redis import free_port
    from bridge.tenants import service as tenants
    from bridge.triggers import secrets
    from sandbox.testing import start_sandbox_process

    web_port = free_port()
    db = Database(database_url)
    created = tenants.create_key(db, "acme")
    credits.grant(db, created.tenant_id, credits_granted)
    secret = secrets.create(db, "acme")[1]
    try:
        with start_sandbox_process(tmp_path / "sf", api_daily_limit=5_000_000) as sbx:
            tenants.add_org(db, "acme", sbx.org_id)
            sbx.seed(users=4, seed=5)
            users = sbx.salesforce().query("SELECT Id FROM User WHERE IsActive = true")["records"]
            human = next(u["Id"] for u in users if u["Id"] != sbx.integration_user_id)
            env = {
                **stack_env,
                "BRIDGE_SF_AUTH": "sandbox",
                "BRIDGE_SF_INSTANCE_URL": sbx.instance_url,
                "BRIDGE_SF_CA_BUNDLE": str(sbx.ca_bundle),
                "BRIDGE_SF_CLIENT_ID": sbx.client_id,
                "BRIDGE_SF_CLIENT_SECRET": sbx.client_secret,
                **(extra_env or {}),
            }
            web = processes.start("web", [*BRIDGE, "web", "--port", str(web_port)], env)
            web_url = f"http://127.0.0.1:{web_port}"
            wait_until(lambda: _answers(f"{web_url}/healthz"), 30, "web")
            processes.start("dispatcher", [*BRIDGE, "dispatcher"], env).wait_for_log(
                "dispatcher started"
            )
            sbx.set_callouts(
                url=f"{web_url}/v1/triggers/salesforce", secret=secret, api_key=created.key,
                enabled=True, backoff_seconds=0.2,
            )  # fmt: skip
            yield Connected(sbx, env, web_url, web, created.key, secret, created.tenant_id, human)
            assert web.process.poll() is None, web.log()
    finally:
        db.dispose()


def _answers(url: str) -> bool:
    import requests

    try:
        return requests.get(url, timeout=1).status_code == 200
    except requests.RequestException:
        return False
