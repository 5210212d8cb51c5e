"""SQL of the triggers domain: which orgs and signing secrets a tenant has, poll states."""

from __future__ import annotations

import base64
import secrets as random_secrets

from sqlalchemy import select
from sqlalchemy.orm import Session

from bridge.db.base import utcnow
from bridge.tenants.tables import SalesforceOrg
from bridge.triggers.tables import PollState, WebhookSecret


def org_ids(session: Session, tenant_id: int) -> set[str]:
    rows = session.scalars(select(SalesforceOrg.org_id).where(SalesforceOrg.tenant_id == tenant_id))
    return set(rows)


def active_secrets(session: Session, tenant_id: int) -> list[str]:
    rows = session.scalars(
        select(WebhookSecret.secret)
        .where(WebhookSecret.tenant_id == tenant_id, WebhookSecret.revoked_at.is_(None))
        .order_by(WebhookSecret.id.desc())
    )
    return list(rows)


def create_secret(session: Session, tenant_id: int) -> tuple[int, str]:
    """A new `whsec_` secret (24 random bytes, base64) for the tenant; returns (id, secret)."""
    value = "whsec_" + base64.b64encode(random_secrets.token_bytes(24)).decode()
    row = WebhookSecret(tenant_id=tenant_id, secret=value)
    session.add(row)
    session.flush()
    return row.id, value


def list_secrets(session: Session, tenant_id: int | None = None) -> list[WebhookSecret]:
    query = select(WebhookSecret).order_by(WebhookSecret.id)
    if tenant_id is not None:
        query = query.where(WebhookSecret.tenant_id == tenant_id)
    return list(session.scalars(query))


def revoke_secret(session: Session, secret_id: int) -> bool:
    row = session.get(WebhookSecret, secret_id)
    if row is None or row.revoked_at is not None:
        return False
    row.revoked_at = utcnow()
    return True


def poll_states(session: Session, tenant_id: int) -> list[PollState]:
    return list(
        session.scalars(
            select(PollState).where(PollState.tenant_id == tenant_id).order_by(PollState.object)
        )
    )
