"""Serve the sandbox over HTTPS with a throwaway CA kept in the data directory."""

from __future__ import annotations

import asyncio
import json
import logging
import os
import signal
import ssl
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import trustme
from aiohttp import web

from sandbox.app import create_app
from sandbox.callouts import CalloutConfig, new_secret
from sandbox.edge import MAX_HEADER_FIELD, MAX_REQUEST_LINE
from sandbox.schema import load_schema
from sandbox.state import SandboxState
from sandbox.store import Database
from sandbox.usage import DEFAULT_DAILY_LIMIT

log = logging.getLogger("sandbox")
DEFAULT_CLIENT_ID = "sandbox-client"
DEFAULT_CLIENT_SECRET = "sandbox-secret"  # noqa: S105  (a local test org's fixed secret)


@dataclass
class ServeOptions:
    data_dir: Path
    host: str = "127.0.0.1"
    port: int = 8443
    schema: Path | None = None
    client_id: str = DEFAULT_CLIENT_ID
    client_secret: str = DEFAULT_CLIENT_SECRET
    callout_url: str | None = None
    callout_secret: str | None = None
    callout_api_key: str | None = None
    callouts_enabled: bool = True
    api_daily_limit: int = DEFAULT_DAILY_LIMIT
    token_lifetime: float = 7200.0
    jwt_public_key: Path | None = None
    random_seed: int | None = None


def load_ca(data_dir: Path) -> trustme.CA:
    """The data dir's CA (created on first use), so restarts keep the same trust anchor."""
    cert_path, key_path = data_dir / "ca.pem", data_dir / "ca-key.pem"
    if cert_path.exists() and key_path.exists():
        return trustme.CA.from_pem(cert_path.read_bytes(), key_path.read_bytes())
    ca = trustme.CA(organization_name="Bridge Salesforce sandbox")
    ca.cert_pem.write_to_path(str(cert_path))
    ca.private_key_pem.write_to_path(str(key_path))
    os.chmod(key_path, 0o600)
    return ca


def server_ssl_context(data_dir: Path, host: str) -> ssl.SSLContext:
    ca = load_ca(data_dir)
    names = ["127.0.0.1", "localhost", "::1"]
    if host not in names and host not in ("0.0.0.0", "::"):
        names.append(host)
    cert = ca.issue_cert(*names)
    cert.private_key_and_cert_chain_pem.write_to_path(str(data_dir / "server.pem"))
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    cert.configure_cert(context)
    return context


def _callout_config(db: Database, options: ServeOptions) -> CalloutConfig:
    secret = options.callout_secret or db.get_meta("callout_secret") or new_secret()
    with db.transaction():
        db.set_meta("callout_secret", secret)
    return CalloutConfig(
        url=options.callout_url, secret=secret, api_key=options.callout_api_key,
        enabled=options.callouts_enabled,
    )  # fmt: skip


def connection_info(state: SandboxState, data_dir: Path) -> dict[str, Any]:
    user = state.db.fetch_row("User", state.db.integration_user_id) or {}
    return {
        "instance_url": state.issuer.instance_url,
        "ca_bundle": str((data_dir / "ca.pem").resolve()),
        "client_id": state.issuer.client_id,
        "client_secret": state.issuer.client_secret,
        "org_id": state.db.org_id,
        "username": user.get("Username"),
        "integration_user_id": state.db.integration_user_id,
        "password": "sandbox-password",
        "security_token": "SANDBOXTOKEN",
        "callout_url": state.callouts.config.url,
        "callout_secret": state.callouts.config.secret,
        "control_url": f"{state.issuer.instance_url}/_sandbox",
        "pid": os.getpid(),
    }


async def serve(options: ServeOptions) -> None:
    data_dir = options.data_dir.resolve()
    data_dir.mkdir(parents=True, exist_ok=True)
    context = server_ssl_context(data_dir, options.host)
    db = Database(data_dir / "sandbox.sqlite3", load_schema(options.schema))
    state = SandboxState.build(
        db, instance_url="", client_id=options.client_id, client_secret=options.client_secret,
        token_lifetime=options.token_lifetime, api_daily_limit=options.api_daily_limit,
        callout_config=_callout_config(db, options), seed=options.random_seed,
    )  # fmt: skip
    if options.jwt_public_key:
        state.sessions.register_jwt_key(options.jwt_public_key.read_text("utf-8"))
    runner = web.AppRunner(
        create_app(state), access_log=None,
        max_line_size=MAX_REQUEST_LINE, max_field_size=MAX_HEADER_FIELD,
    )  # fmt: skip
    await runner.setup()
    site = web.TCPSite(runner, options.host, options.port, ssl_context=context)
    await site.start()
    port = runner.addresses[0][1]
    shown_host = "127.0.0.1" if options.host in ("0.0.0.0", "::") else options.host
    if ":" in shown_host:
        shown_host = f"[{shown_host}]"
    state.issuer.instance_url = f"https://{shown_host}:{port}"
    info = connection_info(state, data_dir)
    partial = data_dir / "sandbox.json.tmp"
    partial.write_text(json.dumps(info, indent=2) + "\n", "utf-8")
    partial.replace(data_dir / "sandbox.json")  # atomic: readers never see half a file
    sys.stdout.write(json.dumps(info) + "\n")
    sys.stdout.flush()
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    try:
        await stop.wait()
    finally:
        await runner.cleanup()


def run(options: ServeOptions) -> None:
    logging.basicConfig(level=logging.WARNING, stream=sys.stderr)
    asyncio.run(serve(options))
