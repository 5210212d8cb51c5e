"""Run a real sandbox process from tests: `start_sandbox_process(data_dir)`.

    from sandbox.testing import start_sandbox_process

    with start_sandbox_process(tmp_path / "sf", callout_url="http://127.0.0.1:9000/hook") as sbx:
        sf = sbx.salesforce()                      # simple_salesforce.Salesforce over HTTPS
        sbx.set_faults({"kind": "UNABLE_TO_LOCK_ROW", "path": "composite", "times": 1})
        sbx.wait_for_callouts()

`start_sandbox_process(data_dir, port=0, **options)` spawns `python -m sandbox serve` (options
are the serve flags with underscores: schema, callout_url, callout_secret, callout_api_key,
callouts_enabled, api_daily_limit, token_lifetime, jwt_public_key, client_id, client_secret,
random_seed, host) and waits until it answers. The returned `SandboxProcess` (also a context
manager that stops the process on exit) exposes:

- connection: `instance_url`, `ca_bundle` (Path), `client_id`, `client_secret`, `org_id`,
  `username`, `integration_user_id`, `callout_secret`, `data_dir`, `info` (sandbox.json)
- `token(grant="client_credentials", username=None) -> str`: a fresh access token (OAuth endpoint;
  "password" grant for another user)
- `session() -> requests.Session` trusting the sandbox CA (`trust_env` off: a
  `REQUESTS_CA_BUNDLE` in the environment would otherwise override `verify`)
- `salesforce(token=None, version="60.0") -> simple_salesforce.Salesforce`
- `stop()`, `restart()` (same data dir and port)
- control API: `status()`, `set_faults(*rules)`, `add_fault(**rule)`, `clear_faults()`,
  `faults()`, `set_callouts(**settings)`, `callouts()`, `wait_for_callouts(timeout)`,
  `api_usage()`, `set_api_limit(n, used=None)`, `expire_tokens(token=None)`,
  `set_token_lifetime(seconds)`, `register_jwt_key(pem)`, `reset()`, `seed(...)`,
  `create(sobject, fields, as_user=None) -> id`, `update(sobject, id, fields, system=False)`,
  `undelete(ids)`.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path
from types import TracebackType
from typing import Any

import requests

from sandbox.auth import SANDBOX_PASSWORD

_FLAGS = {
    "schema", "callout_url", "callout_secret", "callout_api_key", "api_daily_limit",
    "token_lifetime", "jwt_public_key", "client_id", "client_secret", "random_seed", "host",
}  # fmt: skip


class SandboxProcess:
    def __init__(self, data_dir: Path, port: int = 0, **options: Any) -> None:
        unknown = set(options) - _FLAGS - {"callouts_enabled"}
        if unknown:
            raise TypeError(f"unknown sandbox options: {sorted(unknown)}")
        self.data_dir = Path(data_dir).resolve()
        self.port = port
        self.options = options
        self.process: subprocess.Popen[str] | None = None
        self.info: dict[str, Any] = {}

    # --- lifecycle ----------------------------------------------------------------------
    def _command(self) -> list[str]:
        command = [sys.executable, "-m", "sandbox", "serve", "--data-dir", str(self.data_dir),
                   "--port", str(self.port)]  # fmt: skip
        for key, value in self.options.items():
            if key == "callouts_enabled":
                command.append("--callouts" if value else "--no-callouts")
            elif value is not None:
                command += [f"--{key.replace('_', '-')}", str(value)]
        return command

    def start(self, timeout: float = 30.0) -> SandboxProcess:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        info_path = self.data_dir / "sandbox.json"
        info_path.unlink(missing_ok=True)
        log = (self.data_dir / "sandbox.log").open("a")
        root = Path(__file__).resolve().parent.parent
        env = {**os.environ, "PYTHONPATH": os.pathsep.join(
            p for p in (str(root), os.environ.get("PYTHONPATH", "")) if p)}  # fmt: skip
        self.process = subprocess.Popen(
            self._command(), stdout=subprocess.PIPE, stderr=log, text=True, env=env
        )
        assert self.process.stdout is not None
        line = self.process.stdout.readline()
        if not line:
            self.process.wait(timeout=5)
            log_text = (self.data_dir / "sandbox.log").read_text()[-2000:]
            raise RuntimeError(f"sandbox exited with {self.process.returncode}: {log_text}")
        self.info = json.loads(line)
        self.port = int(self.info["instance_url"].rsplit(":", 1)[1])
        deadline = time.monotonic() + timeout
        while True:
            try:
                if self.session().get(self.instance_url + "/services/data/", timeout=2).ok:
                    break
            except requests.RequestException:
                if time.monotonic() > deadline:
                    raise
            time.sleep(0.05)
        return self

    def stop(self, timeout: float = 10.0) -> None:
        if self.process is None:
            return
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        if self.process.stdout:
            self.process.stdout.close()
        self.process = None

    def restart(self) -> SandboxProcess:
        """Stop and start again on the same data dir and port."""
        self.stop()
        return self.start()

    def __enter__(self) -> SandboxProcess:
        if self.process is None:
            self.start()
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:  # fmt: skip
        self.stop()

    # --- connection ---------------------------------------------------------------------
    @property
    def instance_url(self) -> str:
        return str(self.info["instance_url"])

    @property
    def ca_bundle(self) -> Path:
        return Path(self.info["ca_bundle"])

    @property
    def client_id(self) -> str:
        return str(self.info["client_id"])

    @property
    def client_secret(self) -> str:
        return str(self.info["client_secret"])

    @property
    def org_id(self) -> str:
        return str(self.info["org_id"])

    @property
    def username(self) -> str:
        return str(self.info["username"])

    @property
    def integration_user_id(self) -> str:
        return str(self.info["integration_user_id"])

    @property
    def callout_secret(self) -> str:
        return str(self.callouts()["config"]["secret"])

    def session(self) -> requests.Session:
        session = requests.Session()
        session.verify = str(self.ca_bundle)
        session.trust_env = False
        return session

    def token_response(
        self, grant: str = "client_credentials", username: str | None = None, **form: str
    ) -> dict[str, Any]:
        data = {"grant_type": grant, "client_id": self.client_id,
                "client_secret": self.client_secret, **form}  # fmt: skip
        if grant == "password":
            data.update(username=username or self.username, password=SANDBOX_PASSWORD)
        response = self.session().post(self.instance_url + "/services/oauth2/token", data=data)
        response.raise_for_status()
        return response.json()  # type: ignore[no-any-return]

    def token(self, grant: str = "client_credentials", username: str | None = None) -> str:
        return str(self.token_response(grant, username)["access_token"])

    def salesforce(self, token: str | None = None, version: str = "60.0") -> Any:
        from simple_salesforce import Salesforce

        return Salesforce(
            instance_url=self.instance_url, session_id=token or self.token(),
            session=self.session(), version=version,
        )  # fmt: skip

    # --- control API --------------------------------------------------------------------
    def control(self, method: str, path: str, body: Any = None) -> Any:
        response = self.session().request(
            method, f"{self.instance_url}/_sandbox/{path}", json=body,
            headers={"Authorization": f"Bearer {self.client_secret}"}, timeout=120,
        )  # fmt: skip
        if response.status_code >= 400:
            raise RuntimeError(f"{method} /_sandbox/{path}: {response.status_code} {response.text}")
        return response.json()

    def status(self) -> dict[str, Any]:
        return self.control("GET", "status")  # type: ignore[no-any-return]

    def set_faults(self, *rules: dict[str, Any]) -> list[dict[str, Any]]:
        """Replace all fault rules (see sandbox.faults for the rule format)."""
        return self.control("PUT", "faults", {"rules": list(rules)})  # type: ignore[no-any-return]

    def add_fault(self, **rule: Any) -> dict[str, Any]:
        return self.control("POST", "faults", rule)[0]  # type: ignore[no-any-return]

    def faults(self) -> list[dict[str, Any]]:
        return self.control("GET", "faults")  # type: ignore[no-any-return]

    def clear_faults(self) -> None:
        self.control("DELETE", "faults")

    def set_callouts(self, **settings: Any) -> dict[str, Any]:
        """url, secret, api_key, enabled, drop_rate, objects, max_attempts, backoff_seconds..."""
        return self.control("PATCH", "callouts", settings)  # type: ignore[no-any-return]

    def callouts(self, limit: int = 1000) -> dict[str, Any]:
        return self.control("GET", f"callouts?limit={limit}")  # type: ignore[no-any-return]

    def wait_for_callouts(self, timeout: float = 15.0) -> dict[str, Any]:
        """Wait until the callout queue is empty; returns the callout snapshot."""
        deadline = time.monotonic() + timeout
        while True:
            snapshot = self.callouts()
            if snapshot["pending"] == 0 or time.monotonic() > deadline:
                return snapshot
            time.sleep(0.05)

    def api_usage(self) -> dict[str, int]:
        return self.control("GET", "limits")  # type: ignore[no-any-return]

    def set_api_limit(self, limit: int, used: int | None = None) -> dict[str, int]:
        body: dict[str, int] = {"limit": limit}
        if used is not None:
            body["used"] = used
        return self.control("PUT", "limits", body)  # type: ignore[no-any-return]

    def expire_tokens(self, token: str | None = None) -> int:
        return int(self.control("POST", "tokens/expire", {"token": token})["expired"])

    def set_token_lifetime(self, seconds: float) -> None:
        self.control("PUT", "tokens", {"lifetime": seconds})

    def register_jwt_key(self, pem: str) -> None:
        self.control("POST", "jwt-keys", {"pem": pem})

    def reset(self) -> None:
        self.control("POST", "reset")

    def seed(self, users: int = 0, accounts: int = 0, contacts: int = 0, leads: int = 0,
             seed: int | None = None) -> dict[str, int]:  # fmt: skip
        body = {"users": users, "accounts": accounts, "contacts": contacts, "leads": leads,
                "seed": seed}  # fmt: skip
        return self.control("POST", "seed", body)  # type: ignore[no-any-return]

    def create(self, sobject: str, fields: dict[str, Any], as_user: str | None = None) -> str:
        """Create a record as `as_user` (default: integration user); fires callouts."""
        body = {"fields": fields, "as_user": as_user}
        return str(self.control("POST", f"records/{sobject}", body)["id"])

    def update(self, sobject: str, record_id: str, fields: dict[str, Any],
               system: bool = False, as_user: str | None = None) -> str:  # fmt: skip
        """Update a record; `system=True` may also set read-only fields."""
        body = {"fields": fields, "system": system, "as_user": as_user}
        return str(self.control("PATCH", f"records/{sobject}/{record_id}", body)["id"])

    def undelete(self, ids: list[str]) -> list[dict[str, Any]]:
        return self.control("POST", "undelete", {"ids": ids})  # type: ignore[no-any-return]


def start_sandbox_process(data_dir: Path, port: int = 0, **options: Any) -> SandboxProcess:
    """Spawn `python -m sandbox serve` and wait until it answers (see the module docstring)."""
    return SandboxProcess(data_dir, port, **options).start()
