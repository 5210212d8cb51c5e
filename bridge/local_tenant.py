"""The local tenant `bridge up` provisions beside the sandbox, so the demo works end to end.

On every start: tenant `local` exists, owns the sandbox's org, has credits and a webhook signing
secret, and has an API key kept in `<data_dir>/local-api-key` (mode 0600; reused while it still
verifies). The sandbox's emulated Apex callouts are then pointed at the web process, signed with
that secret. Nothing here runs when a real Salesforce org is configured.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from bridge.credits import service as credits
from bridge.db import Database
from bridge.tenants import service as tenants
from bridge.tenants.service import KeyStatus
from bridge.triggers import secrets, store

TENANT = "local"
STARTING_CREDITS = 100_000


@dataclass(frozen=True)
class LocalTenant:
    tenant_id: int
    key: str
    key_file: Path
    signing_secret: str


def provision(db: Database, data_dir: Path, org_id: str) -> LocalTenant:
    key_file = data_dir / "local-api-key"
    key = key_file.read_text().strip() if key_file.exists() else ""
    if not key or tenants.verify_key(db, key).status is not KeyStatus.VALID:
        key = tenants.create_key(db, TENANT, name="bridge up (local demo)").key
        key_file.write_text(key + "\n")
        os.chmod(key_file, 0o600)
    tenant_id = tenants.add_org(db, TENANT, org_id)
    if credits.balance(db, tenant_id).total == 0:
        credits.grant(db, tenant_id, STARTING_CREDITS, reason="bridge up")
    with db.session() as s:
        active = store.active_secrets(s, tenant_id)
    secret = active[0] if active else secrets.create(db, TENANT)[1]
    return LocalTenant(tenant_id, key, key_file, secret)
