"""`bridge sandbox` itself: the real console script, exec'ing `python -m sandbox` over HTTPS."""

from __future__ import annotations

import json
import os
import select
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests

ROOT = Path(__file__).resolve().parents[2]


def _bridge_command() -> str:
    beside = Path(sys.executable).parent / "bridge"
    found = str(beside) if beside.exists() else shutil.which("bridge")
    if found is None:
        pytest.fail("the `bridge` console script is not installed (pip install -e .)")
    return found


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _first_line(process: subprocess.Popen[str], timeout: float) -> str:
    assert process.stdout is not None
    ready, _, _ = select.select([process.stdout], [], [], timeout)
    return process.stdout.readline() if ready else ""


def _session(ca_bundle: str | bool) -> requests.Session:
    session = requests.Session()
    session.trust_env = False  # a REQUESTS_CA_BUNDLE in the environment would replace verify
    session.verify = ca_bundle
    return session


@pytest.fixture
def bridge_sandbox(tmp_path: Path) -> Iterator[tuple[subprocess.Popen[str], Path, int]]:
    data_dir = tmp_path / "sf"
    port = _free_port()
    log = (tmp_path / "sandbox.log").open("w")
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(
        p for p in (str(ROOT), os.environ.get("PYTHONPATH", "")) if p)}  # fmt: skip
    process = subprocess.Popen(
        [_bridge_command(), "sandbox", "--data-dir", str(data_dir), "--port", str(port),
         "--no-callouts"],
        stdout=subprocess.PIPE, stderr=log, text=True, env=env, cwd=tmp_path,
    )  # fmt: skip
    yield process, data_dir, port
    if process.poll() is None:
        process.kill()
        process.wait(10)
    if process.stdout:
        process.stdout.close()
    log.close()


def test_bridge_sandbox_serves_https_and_stops_cleanly(
    bridge_sandbox: tuple[subprocess.Popen[str], Path, int], tmp_path: Path
) -> None:
    process, data_dir, port = bridge_sandbox
    line = _first_line(process, timeout=60)
    assert line, f"exit {process.poll()}: {(tmp_path / 'sandbox.log').read_text()[-2000:]}"
    info: dict[str, Any] = json.loads(line)
    # execv: the sandbox runs in the very process `bridge` started, not in a child of it.
    assert info["pid"] == process.pid
    assert info["instance_url"] == f"https://127.0.0.1:{port}"
    ca_bundle = Path(info["ca_bundle"])
    assert ca_bundle == (data_dir / "ca.pem").resolve() and ca_bundle.is_file()
    assert json.loads((data_dir / "sandbox.json").read_text()) == info

    url = f"{info['instance_url']}/services/data/"
    deadline = time.monotonic() + 30
    while True:
        try:
            response = _session(str(ca_bundle)).get(url, timeout=2)
            break
        except requests.ConnectionError:
            assert time.monotonic() < deadline, "HTTPS never answered"
            time.sleep(0.1)
    assert response.status_code == 200
    assert any(v["version"] == "60.0" for v in response.json())
    token = _session(str(ca_bundle)).post(
        f"{info['instance_url']}/services/oauth2/token",
        data={"grant_type": "client_credentials", "client_id": info["client_id"],
              "client_secret": info["client_secret"]},
        timeout=5,
    )  # fmt: skip
    assert token.status_code == 200 and token.json()["instance_url"] == info["instance_url"]
    with pytest.raises(requests.exceptions.SSLError):
        _session(True).get(url, timeout=5)  # only the CA it wrote vouches for it

    process.send_signal(signal.SIGTERM)
    assert process.wait(timeout=15) == 0
    with socket.socket() as probe:
        assert probe.connect_ex(("127.0.0.1", port)) != 0  # the port is released
