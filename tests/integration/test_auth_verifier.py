"""The in-process key cache: one SQL lookup per key per TTL, shared by concurrent misses."""

from __future__ import annotations

import asyncio

import pytest

from bridge.db import Database
from bridge.tenants import service
from bridge.tenants.service import KeyStatus, KeyVerifier


async def test_cache_hits_skip_sql(db: Database, monkeypatch: pytest.MonkeyPatch) -> None:
    key = service.create_key(db, "acme", scopes=["sync"])
    calls = 0
    real = service.verify_key

    def counting(database: Database, presented: str) -> service.Verification:
        nonlocal calls
        calls += 1
        return real(database, presented)

    monkeypatch.setattr(service, "verify_key", counting)
    verifier = KeyVerifier(db, ttl=60)
    results = await asyncio.gather(*(verifier.verify(key.key) for _ in range(100)))
    assert calls == 1  # concurrent misses shared one lookup
    assert {r.status for r in results} == {KeyStatus.VALID}
    principal = results[0].principal
    assert principal is not None and principal.tenant_id == key.tenant_id
    assert principal.scopes == ("sync",)
    await verifier.verify(key.key)
    assert calls == 1
    assert (await verifier.verify("garbage")).status is KeyStatus.MALFORMED
    assert calls == 1  # malformed keys never reach SQL
    verifier.ttl = 0
    verifier.forget()
    service.revoke_key(db, key.key_id)
    assert (await verifier.verify(key.key)).status is KeyStatus.REVOKED
