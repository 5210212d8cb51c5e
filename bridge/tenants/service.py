"""Tenants, API keys and Salesforce orgs: create, list, revoke and verify.

A key reads `brk_<key id>_<secret>`: the id is public (it names the key in lists, logs and
`bridge keys revoke`), the secret is `secrets.token_urlsafe(32)`. Only the SHA-256 of the whole
key is stored, so a database leak yields no usable key. SHA-256 rather than a slow password
hash is right here: the secret has 256 bits of entropy, nothing to brute-force, and the hot
path must verify thousands of requests per second.
"""

from __future__ import annotations

import enum
import hashlib
import hmac
import re
import secrets
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from bridge.db import Database, utcnow
from bridge.refresh_cache import RefreshAheadCache
from bridge.tenants.models import CreatedKey, KeyInfo, Principal
from bridge.tenants.tables import ApiKey, SalesforceOrg, Tenant

KEY_PREFIX = "brk"
_KEY_SHAPE = re.compile(r"^brk_([0-9a-f]{16})_([A-Za-z0-9_-]{32,128})$")
_ORG_ID = re.compile(r"^00D[A-Za-z0-9]{12}(?:[A-Za-z0-9]{3})?$")


class TenantNotFound(LookupError):
    pass


class KeyNotFound(LookupError):
    pass


# --- key format ----------------------------------------------------------------------------


def hash_key(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def parse_key_id(key: str) -> str | None:
    """The key id of a well-formed key, else None (the secret is not checked here)."""
    match = _KEY_SHAPE.match(key)
    return match.group(1) if match else None


def new_key() -> tuple[str, str]:
    """(key id, full key)."""
    key_id = secrets.token_hex(8)
    return key_id, f"{KEY_PREFIX}_{key_id}_{secrets.token_urlsafe(32)}"


# --- tenants ---------------------------------------------------------------------------------


def find_tenant(session: Session, name: str) -> Tenant | None:
    return session.scalar(select(Tenant).where(Tenant.name == name))


def ensure_tenant(session: Session, name: str) -> Tenant:
    """The tenant called `name`, created on first use."""
    name = name.strip()
    if not name:
        raise ValueError("tenant name must not be empty")
    tenant = find_tenant(session, name)
    if tenant is None:
        tenant = Tenant(name=name)
        session.add(tenant)
        session.flush()
    return tenant


def tenant_id_by_name(db: Database, name: str) -> int:
    with db.session() as session:
        tenant = find_tenant(session, name)
        if tenant is None:
            raise TenantNotFound(name)
        return tenant.id


# --- keys ------------------------------------------------------------------------------------


def create_key(
    db: Database,
    tenant_name: str,
    *,
    name: str = "",
    scopes: Iterable[str] = (),
    allowed_origins: Iterable[str] = (),
) -> CreatedKey:
    key_id, key = new_key()
    scope_list = sorted({s.strip() for s in scopes if s.strip()})
    origin_list = [o.strip().rstrip("/") for o in allowed_origins if o.strip()]
    with db.session() as session:
        tenant = ensure_tenant(session, tenant_name)
        session.add(
            ApiKey(
                id=key_id,
                tenant_id=tenant.id,
                key_hash=hash_key(key),
                name=name,
                scopes=scope_list,
                allowed_origins=origin_list,
            )
        )
        return CreatedKey(
            key_id=key_id,
            key=key,
            tenant_id=tenant.id,
            tenant_name=tenant.name,
            name=name,
            scopes=tuple(scope_list),
            allowed_origins=tuple(origin_list),
        )


def list_keys(db: Database, tenant_name: str | None = None) -> list[KeyInfo]:
    query = select(ApiKey, Tenant).join(Tenant, Tenant.id == ApiKey.tenant_id)
    if tenant_name is not None:
        query = query.where(Tenant.name == tenant_name)
    query = query.order_by(Tenant.name, ApiKey.created_at, ApiKey.id)
    with db.session() as session:
        return [
            KeyInfo(
                key_id=key.id,
                tenant_id=tenant.id,
                tenant_name=tenant.name,
                name=key.name,
                created_at=key.created_at,
                revoked_at=key.revoked_at,
                scopes=tuple(key.scopes or ()),
                allowed_origins=tuple(key.allowed_origins or ()),
            )
            for key, tenant in session.execute(query).all()
        ]


def revoke_key(db: Database, key_id: str) -> bool:
    """Revoke a key; False when it was already revoked. Raises KeyNotFound."""
    with db.session() as session:
        key = session.get(ApiKey, key_id)
        if key is None:
            raise KeyNotFound(key_id)
        if key.revoked_at is not None:
            return False
        key.revoked_at = utcnow()
        return True


class KeyStatus(enum.Enum):
    VALID = "valid"
    MALFORMED = "malformed"
    UNKNOWN = "unknown"
    REVOKED = "revoked"


@dataclass(frozen=True, slots=True)
class Verification:
    status: KeyStatus
    principal: Principal | None = None
    key_id: str | None = None


def verify_key(db: Database, key: str) -> Verification:
    """Check a presented key against the store (one primary-key lookup)."""
    key_id = parse_key_id(key)
    if key_id is None:
        return Verification(KeyStatus.MALFORMED)
    with db.read() as session:
        row = session.get(ApiKey, key_id)
        # Compare hashes in constant time; the id is public, the secret is not.
        if row is None or not hmac.compare_digest(row.key_hash, hash_key(key)):
            return Verification(KeyStatus.UNKNOWN, key_id=key_id)
        if row.revoked_at is not None:
            return Verification(KeyStatus.REVOKED, key_id=key_id)
        return Verification(
            KeyStatus.VALID,
            Principal(
                tenant_id=row.tenant_id,
                key_id=row.id,
                scopes=tuple(row.scopes or ()),
                allowed_origins=tuple(row.allowed_origins or ()),
            ),
            key_id=key_id,
        )


class KeyVerifier:
    """`verify_key` behind an in-process refresh-ahead cache, for the request hot path.

    Results (valid and invalid) are keyed by the key's hash, so a busy key costs one SQL
    lookup per process per `ttl` instead of one per request, and never waits for it. The price
    is that a revocation takes effect within `ttl` seconds (default 5) in every web process.
    """

    def __init__(self, db: Database, ttl: float = 5.0, max_entries: int = 10_000) -> None:
        self.db = db
        self._cache: RefreshAheadCache[str, Verification] = RefreshAheadCache(
            ttl, max_entries=max_entries
        )

    async def verify(self, key: str) -> Verification:
        if parse_key_id(key) is None:
            return Verification(KeyStatus.MALFORMED)
        digest = hash_key(key)
        load = lambda: verify_key(self.db, key)  # noqa: E731
        return self._cache.get_cached(digest, load) or await self._cache.get(digest, load)

    @property
    def ttl(self) -> float:
        return self._cache.ttl

    @ttl.setter
    def ttl(self, seconds: float) -> None:
        self._cache.ttl = seconds

    def forget(self) -> None:
        self._cache.clear()


# --- Salesforce orgs -------------------------------------------------------------------------


def add_org(db: Database, tenant_name: str, org_id: str) -> int:
    """Give a Salesforce org id to a tenant (created on demand); returns the tenant id."""
    if not _ORG_ID.match(org_id):
        raise ValueError(f"not a Salesforce org id: {org_id!r}")
    with db.session() as session:
        tenant = ensure_tenant(session, tenant_name)
        existing = session.get(SalesforceOrg, org_id)
        if existing is not None and existing.tenant_id != tenant.id:
            raise ValueError(f"org {org_id} already belongs to tenant {existing.tenant_id}")
        if existing is None:
            session.add(SalesforceOrg(org_id=org_id, tenant_id=tenant.id))
        return tenant.id


def tenant_for_org(db: Database, org_id: str) -> int | None:
    with db.read() as session:
        org = session.get(SalesforceOrg, org_id)
        return org.tenant_id if org else None


def list_orgs(db: Database, tenant_name: str | None = None) -> Sequence[tuple[str, str]]:
    query = select(SalesforceOrg.org_id, Tenant.name).join(
        Tenant, Tenant.id == SalesforceOrg.tenant_id
    )
    if tenant_name is not None:
        query = query.where(Tenant.name == tenant_name)
    with db.session() as session:
        return [(org, name) for org, name in session.execute(query.order_by(Tenant.name)).all()]
