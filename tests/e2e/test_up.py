"""The real `bridge up` command: starts everything on embedded defaults, stops cleanly."""

from __future__ import annotations

import contextlib
import json
import os
import re
import signal
import subprocess
import sys
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import psutil
import pytest
import redis
import requests

from bridge.cli.up import sandbox_installed
from bridge.embedded_redis import free_port, redis_answers
from config.settings import Settings
from tests.e2e.conftest import wait_until
from workers.celery_app import create_celery_app

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(90)]

# The installed console script is what a user types; fall back to the module form.
_SCRIPT = Path(sys.executable).with_name("bridge")
BRIDGE_COMMAND = [str(_SCRIPT)] if _SCRIPT.exists() else [sys.executable, "-m", "bridge"]


@dataclass
class Up:
    process: subprocess.Popen[bytes]
    log_path: Path
    port: int
    seen: dict[int, psutil.Process]

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def remember_children(self) -> list[psutil.Process]:
        """Record every descendant now, so the test can check each one is gone later."""
        children = psutil.Process(self.process.pid).children(recursive=True)
        for child in children:
            self.seen.setdefault(child.pid, child)
        return children

    def get(self, path: str, key: str | None = None) -> int:
        request = urllib.request.Request(f"http://127.0.0.1:{self.port}{path}")
        if key:
            request.add_header("Authorization", f"Bearer {key}")
        try:
            with urllib.request.urlopen(request, timeout=2) as response:  # noqa: S310 - our own server
                return int(response.status)
        except urllib.error.HTTPError as exc:
            return int(exc.code)
        except OSError:
            return 0

    def survivors(self) -> list[psutil.Process]:
        alive = []
        for proc in self.seen.values():
            # is_running() compares the start time too, so a reused pid is not a false alarm.
            if proc.is_running() and proc.status() != psutil.STATUS_ZOMBIE:
                alive.append(proc)
        return alive


StartUp = Callable[..., Up]


@pytest.fixture
def start_up(tmp_path: Path) -> Iterator[StartUp]:
    started: list[Up] = []

    def start(*extra: str, env_extra: dict[str, str] | None = None) -> Up:
        port = free_port()
        dead_redis = f"redis://127.0.0.1:{free_port()}/0"  # nothing listens there
        assert not redis_answers(dead_redis)
        env = {k: v for k, v in os.environ.items() if not k.startswith(("BRIDGE_", "CELERY_"))}
        env.pop("DATABASE_URL", None)
        env.update(
            REDIS_URL=dead_redis,
            BRIDGE_ENVIRONMENT="test",
            BRIDGE_SANDBOX_PORT=str(free_port()),
            PYTHONUNBUFFERED="1",
            **(env_extra or {}),
        )
        log_path = tmp_path / f"up-{len(started)}.log"
        with log_path.open("wb") as out:
            process = subprocess.Popen(
                [*BRIDGE_COMMAND, "up", "--port", str(port), "--data-dir",
                 str(tmp_path / "data"), "--workers", "1", *extra],
                env=env, cwd=tmp_path, stdout=out, stderr=subprocess.STDOUT,
            )  # fmt: skip
        up = Up(process, log_path, port, {})
        started.append(up)
        return up

    yield start
    for up in started:  # even when the test failed: nothing may outlive it
        with contextlib.suppress(psutil.Error):
            up.remember_children()
        if up.process.poll() is None:
            up.process.send_signal(signal.SIGINT)
            with contextlib.suppress(subprocess.TimeoutExpired):
                up.process.wait(30)
        for proc in [*up.seen.values()]:
            with contextlib.suppress(psutil.Error):
                proc.kill()
        if up.process.poll() is None:
            up.process.kill()
            up.process.wait(5)


def _wait_ready(up: Up) -> None:
    def ready() -> bool:
        if up.process.poll() is not None:
            raise AssertionError(f"bridge up exited early:\n{up.log()}")
        return up.get("/healthz") == 200 and up.get("/readyz") == 200

    wait_until(ready, 45, f"/healthz and /readyz\n{up.log()}")
    wait_until(lambda: "the bridge is up" in up.log(), 10, "the banner")
    wait_until(lambda: "celery@" in up.log() and " ready." in up.log(), 20, "the worker")


def test_up_runs_everything_and_ctrl_c_leaves_nothing_behind(
    start_up: StartUp, tmp_path: Path
) -> None:
    up = start_up("--no-sandbox")
    _wait_ready(up)
    log = up.log()
    assert f"http://127.0.0.1:{up.port}/docs" in log
    assert f"http://127.0.0.1:{up.port}/dashboard" in log
    match = re.search(r"Redis\s+(redis://127\.0\.0\.1:\d+/0) \(embedded", log)
    assert match, log
    redis_url = match.group(1)

    # The worker really consumes from the embedded Redis: a ping round-trips.
    app = create_celery_app(Settings(redis_url=redis_url))
    try:
        assert "pong" in app.send_task("diagnostics.ping").get(timeout=15)
        # ... and from the polling queue, where the poll tasks go.
        assert "pong" in app.send_task("diagnostics.ping", queue="polling").get(timeout=15)
    finally:
        app.close()

    children = up.remember_children()
    names = " ".join(" ".join(c.cmdline()) for c in children)
    for expected in ("bridge web", "bridge dispatcher", "bridge worker", "bridge beat",
                     "redis-server"):  # fmt: skip
        assert expected in names, names
    # The prefork pool: a grandchild that must die too.
    assert len(children) >= 5

    up.process.send_signal(signal.SIGINT)
    assert up.process.wait(40) == 0, up.log()
    wait_until(lambda: not up.survivors(), 5, "every child to be gone")
    assert not redis_answers(redis_url)
    assert (tmp_path / "data" / "redis" / "appendonly.aof").exists() or (
        tmp_path / "data" / "redis" / "appendonlydir"
    ).exists()
    assert (tmp_path / "data" / "bridge.sqlite3").exists()


def _token(session: requests.Session, info: dict[str, str]) -> str:
    response = session.post(
        f"{info['instance_url']}/services/oauth2/token",
        data={"grant_type": "client_credentials", "client_id": info["client_id"],
              "client_secret": info["client_secret"]},
    )  # fmt: skip
    response.raise_for_status()
    return str(response.json()["access_token"])


def test_a_dying_child_stops_the_rest_and_fails(start_up: StartUp) -> None:
    up = start_up("--no-sandbox")
    _wait_ready(up)
    children = up.remember_children()
    (beat,) = [c for c in children if "bridge beat" in " ".join(c.cmdline())]
    beat.kill()
    assert up.process.wait(40) == 1
    assert "beat exited unexpectedly" in up.log()
    wait_until(lambda: not up.survivors(), 5, "every child to be gone")


@pytest.mark.skipif(not sandbox_installed(), reason="the sandbox package is not there yet")
def test_up_starts_the_sandbox_and_points_the_bridge_at_it(
    start_up: StartUp, tmp_path: Path
) -> None:
    up = start_up()
    _wait_ready(up)
    wait_until(lambda: "API key    in" in up.log(), 10, "the local tenant")
    key = (tmp_path / "data" / "local-api-key").read_text().strip()
    assert up.get("/v1/credits/remaining", key) == 200
    # A rep changes a lead in the sandbox: its signed Apex callout flows through the bridge.
    info = json.loads((tmp_path / "data" / "sandbox" / "sandbox.json").read_text())
    control = requests.Session()
    control.verify = info["ca_bundle"]
    control.trust_env = False
    control.post(f"{info['control_url']}/seed", json={"users": 3, "seed": 2}).raise_for_status()
    users = control.get(
        f"{info['instance_url']}/services/data/v60.0/query",
        params={"q": "SELECT Id FROM User WHERE IsActive = true"},
        headers={"Authorization": "Bearer " + _token(control, info)},
    ).json()["records"]
    rep = next(u["Id"] for u in users if u["Id"] != info["integration_user_id"])
    lead = control.post(
        f"{info['control_url']}/records/Lead",
        json={"fields": {"LastName": "Demo", "Company": "Acme"}, "as_user": rep},
    ).json()["id"]
    redis_url = re.search(r"Redis\s+(redis://127\.0\.0\.1:\d+/0)", up.log()).group(1)  # type: ignore[union-attr]
    client = redis.Redis.from_url(redis_url)
    wait_until(lambda: client.exists(f"bridge:version:1:{lead}"), 30, "the lead processed")
    client.close()
    children = up.remember_children()
    sandbox = [c for c in children if "sandbox" in " ".join(c.cmdline())]
    assert sandbox, [c.cmdline() for c in children]
    (web,) = [c for c in children if "bridge web" in " ".join(c.cmdline())]
    environ = web.environ()
    assert environ.get("BRIDGE_SF_AUTH") == "sandbox"
    assert environ.get("BRIDGE_SF_INSTANCE_URL", "").startswith("https://127.0.0.1:")
    up.process.send_signal(signal.SIGINT)
    assert up.process.wait(40) == 0, up.log()
    wait_until(lambda: not up.survivors(), 5, "every child to be gone")
