"""The tenants domain's value types: who a request acts for, and what a key looks like."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime


@dataclass(frozen=True, slots=True)
class Principal:
    """The authenticated caller of a request: one API key of one tenant."""

    tenant_id: int
    key_id: str
    # Empty: the key may call every area. Otherwise e.g. ("forms",) for a per-site form key.
    scopes: tuple[str, ...] = ()
    allowed_origins: tuple[str, ...] = ()

    def may_use(self, scope: str) -> bool:
        return not self.scopes or scope in self.scopes


@dataclass(frozen=True, slots=True)
class CreatedKey:
    """A new key. `key` is the only time the secret exists outside the caller's hands."""

    key_id: str
    key: str
    tenant_id: int
    tenant_name: str
    name: str
    scopes: tuple[str, ...] = ()
    allowed_origins: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class KeyInfo:
    """What `bridge keys list` shows: everything but the secret (which is not stored)."""

    key_id: str
    tenant_id: int
    tenant_name: str
    name: str
    created_at: datetime
    revoked_at: datetime | None
    scopes: tuple[str, ...] = field(default=())
    allowed_origins: tuple[str, ...] = field(default=())

    @property
    def active(self) -> bool:
        return self.revoked_at is None
