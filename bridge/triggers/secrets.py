"""Managing a tenant's webhook signing secrets (the CLI's door; SQL lives in store.py)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from bridge.db import Database
from bridge.tenants.service import ensure_tenant, tenant_id_by_name
from bridge.triggers import store


@dataclass(frozen=True)
class SecretInfo:
    id: int
    tenant_id: int
    created_at: datetime
    revoked_at: datetime | None
    hint: str  # the last characters only: enough to tell secrets apart, never the secret


def create(db: Database, tenant_name: str) -> tuple[int, str]:
    with db.session() as s:
        tenant = ensure_tenant(s, tenant_name)
        return store.create_secret(s, tenant.id)


def list_all(db: Database, tenant_name: str | None = None) -> list[SecretInfo]:
    tenant_id = tenant_id_by_name(db, tenant_name) if tenant_name else None
    with db.session() as s:
        return [
            SecretInfo(r.id, r.tenant_id, r.created_at, r.revoked_at, "…" + r.secret[-4:])
            for r in store.list_secrets(s, tenant_id)
        ]


def revoke(db: Database, secret_id: int) -> bool:
    with db.session() as s:
        return store.revoke_secret(s, secret_id)
