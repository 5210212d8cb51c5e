"""Shared plumbing for benchmarks: a throwaway bridge environment and process helpers."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import requests

from bridge.embedded_redis import free_port, redis_answers, start_embedded_redis


def wait_http(url: str, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if requests.get(url, timeout=1).status_code < 500:
                return
        except requests.RequestException:
            pass
        time.sleep(0.1)
    raise RuntimeError(f"{url} did not answer")


@contextmanager
def redis_server(data_dir: Path) -> Iterator[str]:
    """A private embedded Redis (benchmarks must not disturb a developer's Redis)."""
    server = start_embedded_redis(data_dir / "redis", persistent=False)
    try:
        yield server.url
    finally:
        server.stop()


@contextmanager
def process(args: list[str], env: dict[str, str], log: Path) -> Iterator[subprocess.Popen[bytes]]:
    with log.open("wb") as out:
        proc = subprocess.Popen(args, env=env, stdout=out, stderr=subprocess.STDOUT)
        try:
            yield proc
        finally:
            proc.terminate()
            try:
                proc.wait(15)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


def bridge_env(data_dir: Path, redis_url: str, **extra: str) -> dict[str, str]:
    env = dict(os.environ)
    env.update(
        {
            "BRIDGE_ENVIRONMENT": "production",
            "BRIDGE_DATA_DIR": str(data_dir),
            "REDIS_URL": redis_url,
            "DATABASE_URL": f"sqlite:///{data_dir / 'bridge.sqlite3'}",
            "BRIDGE_LOG_LEVEL": "WARNING",
            **extra,
        }
    )
    return env


def bridge(*args: str, env: dict[str, str]) -> str:
    out = subprocess.run(
        [sys.executable, "-m", "bridge", *args], env=env, check=True, capture_output=True, text=True
    )
    return out.stdout


def report(name: str, **values: object) -> None:
    """One machine-readable line per result."""
    print(json.dumps({"benchmark": name, **values}), flush=True)


__all__ = [
    "bridge",
    "bridge_env",
    "free_port",
    "process",
    "redis_answers",
    "redis_server",
    "report",
    "socket",
    "wait_http",
]
