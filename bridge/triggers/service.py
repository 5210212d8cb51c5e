"""Accepting callouts: tenant config (orgs, signing secrets), payment, intake. No HTTP here.

`TriggerService.accept` is the whole hot path after authentication: a cached config lookup,
the signature check, one batched debit, one pipelined Redis accept. It never calls Salesforce
and never publishes a Celery message; the dispatcher turns accepted ids into worker batches.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Mapping
from dataclasses import dataclass

from bridge.credits import service as credits
from bridge.credits.batcher import DebitBatcher
from bridge.credits.service import Debit
from bridge.db import Database
from bridge.triggers import signatures, store
from bridge.triggers.intake import Accepted, Intake, Submission
from bridge.triggers.models import CREDITS_PER_RECORD


class OrgNotAllowed(Exception):
    """The payload names an org that does not belong to the caller's tenant."""


@dataclass(frozen=True)
class TenantTriggerConfig:
    org_ids: frozenset[str]
    secrets: tuple[str, ...]


@dataclass(frozen=True)
class Acceptance:
    accepted: Accepted
    ids: int
    credits_consumed: int
    credits_remaining: int


class TriggerConfigCache:
    """Per-process cache of each tenant's orgs and secrets (changes apply within `ttl`)."""

    def __init__(self, db: Database, ttl: float = 5.0) -> None:
        self.db = db
        self.ttl = ttl
        self._cache: dict[int, tuple[float, TenantTriggerConfig]] = {}

    async def get(self, tenant_id: int) -> TenantTriggerConfig:
        hit = self._cache.get(tenant_id)
        now = time.monotonic()
        if hit and hit[0] > now:
            return hit[1]
        config = await asyncio.to_thread(self._load, tenant_id)
        self._cache[tenant_id] = (now + self.ttl, config)
        return config

    def _load(self, tenant_id: int) -> TenantTriggerConfig:
        with self.db.read() as s:
            return TenantTriggerConfig(
                frozenset(store.org_ids(s, tenant_id)), tuple(store.active_secrets(s, tenant_id))
            )


class TriggerService:
    def __init__(
        self, db: Database, intake: Intake, debits: DebitBatcher, config: TriggerConfigCache
    ) -> None:
        self.db = db
        self.intake = intake
        self.debits = debits
        self.config = config

    async def verify_sender(
        self, tenant_id: int, raw_body: bytes, headers: Mapping[str, str]
    ) -> str | None:
        """The webhook-id to dedupe on. Signature required when the tenant has secrets."""
        config = await self.config.get(tenant_id)
        if config.secrets:
            return signatures.verify(raw_body, headers, config.secrets)
        webhook_id = headers.get("webhook-id")
        return webhook_id[:255] if webhook_id else None

    async def check_org(self, tenant_id: int, org_id: str) -> None:
        if org_id not in (await self.config.get(tenant_id)).org_ids:
            raise OrgNotAllowed(org_id)

    async def accept(
        self,
        tenant_id: int,
        *,
        sobject: str,
        ids: tuple[str, ...],
        event: str,
        org_id: str,
        source: str,
        request_id: str,
        dedupe_key: str | None,
    ) -> Acceptance:
        """Pay for and durably accept the ids; a duplicate is answered free of charge."""
        cost = CREDITS_PER_RECORD[sobject] * len(ids)
        spent = await self.debits.debit(tenant_id, cost, f"triggers:{source}", request_id)
        try:
            accepted = await self.intake.accept(
                Submission(
                    tenant_id=tenant_id,
                    object=sobject,
                    ids=ids,
                    event=event,
                    source=source,
                    request_id=request_id,
                    org_id=org_id,
                    dedupe_key=dedupe_key,
                )
            )
        except BaseException:
            await self._refund(spent)
            raise
        if accepted.duplicate:
            remaining = await self._refund(spent)
            return Acceptance(accepted, len(ids), 0, remaining)
        return Acceptance(accepted, len(ids), cost, spent.remaining)

    async def _refund(self, spent: Debit) -> int:
        return await credits.arefund(self.db, spent)
