"""Accepting callouts: tenant config (orgs, signing secrets), payment, intake. No HTTP here.

`TriggerService.accept` is the whole hot path after authentication: a cached config lookup,
the signature check, and ONE coalesced Redis script call that rate-limits, dedupes, pays from
the tenant's credit lease and appends to the intake stream. Only when the lease runs dry does
a callout wait for SQL (a refill, one per chunk of credits). It never calls Salesforce and
never publishes a Celery message; the dispatcher turns accepted ids into worker batches.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace

from bridge.credits.lease import CreditLeases, Refill
from bridge.credits.service import InsufficientCredits, RemainingCache
from bridge.db import Database
from bridge.refresh_cache import RefreshAheadCache
from bridge.triggers import signatures, store
from bridge.triggers.intake import Accepted, Intake, Status, Submission
from bridge.triggers.models import CREDITS_PER_RECORD


class RateLimited(Exception):
    """Over the caller's per-minute limit; `accepted.rate` says when to come back."""

    def __init__(self, accepted: Accepted) -> None:
        super().__init__("rate limited")
        self.accepted = accepted


class OrgNotAllowed(Exception):
    """The payload names an org that does not belong to the caller's tenant."""


@dataclass(frozen=True)
class TenantTriggerConfig:
    org_ids: frozenset[str]
    secrets: tuple[str, ...]

    def verify_sender(self, raw_body: bytes, headers: Mapping[str, str]) -> str | None:
        """The webhook-id to dedupe on. Signature required when the tenant has secrets."""
        if self.secrets:
            return signatures.verify(raw_body, headers, self.secrets)
        webhook_id = headers.get("webhook-id")
        return webhook_id[:255] if webhook_id else None

    def check_org(self, org_id: str) -> None:
        if org_id not in self.org_ids:
            raise OrgNotAllowed(org_id)


@dataclass(frozen=True)
class Acceptance:
    accepted: Accepted
    ids: int
    credits_consumed: int
    credits_remaining: int
    rate: tuple[int, int, int]  # the rate limit as the first attempt counted it


class TriggerConfigCache:
    """Per-process cache of each tenant's orgs and secrets (changes apply within `ttl`),
    refreshed ahead so busy tenants' callouts never wait for SQL."""

    def __init__(self, db: Database, ttl: float = 5.0) -> None:
        self.db = db
        self._cache: RefreshAheadCache[int, TenantTriggerConfig] = RefreshAheadCache(
            ttl, self._load
        )

    async def get(self, tenant_id: int) -> TenantTriggerConfig:
        return await self._cache.get(tenant_id)

    def cached(self, tenant_id: int) -> TenantTriggerConfig | None:
        """The config when cached and fresh: the hot path's hit costs no await."""
        return self._cache.get_cached(tenant_id)

    def _load(self, tenant_id: int) -> TenantTriggerConfig:
        with self.db.read() as s:
            return TenantTriggerConfig(
                frozenset(store.org_ids(s, tenant_id)), tuple(store.active_secrets(s, tenant_id))
            )


class TriggerService:
    def __init__(
        self,
        db: Database,
        intake: Intake,
        leases: CreditLeases,
        balances: RemainingCache,
        config: TriggerConfigCache,
    ) -> None:
        self.db = db
        self.intake = intake
        self.leases = leases
        self.balances = balances
        self.config = config

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
        rate_key: str = "",
        rate_limit: int = 0,
    ) -> Acceptance:
        """Pay for and durably accept the ids; a duplicate is answered free of charge.

        Raises RateLimited, or InsufficientCredits when lease and balance cannot pay.
        """
        cost = CREDITS_PER_RECORD[sobject] * len(ids)
        submission = Submission(
            tenant_id=tenant_id, object=sobject, ids=ids, event=event, source=source,
            request_id=request_id, org_id=org_id, dedupe_key=dedupe_key, cost=cost,
            rate_key=rate_key, rate_limit=rate_limit,
        )  # fmt: skip
        accepted = await self.intake.accept(submission)
        rate = accepted.rate
        if accepted.status is Status.NEEDS_CREDITS:
            submission = replace(submission, rate_limit=0)  # counted once already
        while accepted.status is Status.NEEDS_CREDITS:
            refill = await self.leases.refill(tenant_id, cost)
            if refill is not None:
                return await self._accept_paid(submission, refill, rate)
            accepted = await self.intake.accept(submission)  # another callout just refilled
        return await self._answer(submission, accepted, rate)

    async def _answer(
        self, submission: Submission, accepted: Accepted, rate: tuple[int, int, int]
    ) -> Acceptance:
        tenant_id, ids = submission.tenant_id, len(submission.ids)
        if accepted.status is Status.RATE_LIMITED:
            raise RateLimited(accepted)
        cost = 0
        if accepted.status is not Status.DUPLICATE and submission.cost:
            cost = submission.cost
            self.balances.note_held(tenant_id, max(accepted.credits, 0))
            self.leases.note_spent(tenant_id, accepted.credits)
        remaining = self.balances.fresh(tenant_id)
        if remaining is None:
            remaining = await self.balances.get(tenant_id)
        return Acceptance(accepted, ids, cost, remaining, rate)

    async def _accept_paid(
        self, submission: Submission, refill: Refill, rate: tuple[int, int, int]
    ) -> Acceptance:
        tenant_id, cost, ids = submission.tenant_id, submission.cost, len(submission.ids)
        self.balances.put(tenant_id, refill.balance)
        self.balances.note_held(tenant_id, refill.held)
        if not refill.ok:
            raise InsufficientCredits(cost, refill.balance + refill.held)
        accepted = await self.intake.accept(replace(submission, cost=0))  # paid by the refill
        if accepted.status is Status.DUPLICATE:  # its twin got in meanwhile: nothing to pay
            await self.leases.give_back(tenant_id, cost)
            return Acceptance(accepted, ids, 0, await self.balances.get(tenant_id), rate)
        return Acceptance(accepted, ids, cost, refill.balance + refill.held, rate)
