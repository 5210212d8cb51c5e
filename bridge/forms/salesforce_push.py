"""Pushing a form's lead to Salesforce without making duplicates.

The matcher looks first (the tenant's match index, `email:eq` on Leads, then Contacts); when
the index cannot be used, one escaped SOQL lookup by email stands in. A found record is
updated (only fields the form filled), else a Lead is created; a new Lead then goes through the
pipeline's assignment (routing pool from BRIDGE_ROUTING_PIPELINE_POOLS) when one is configured.
Submissions of the same person are serialised by a short Redis lock, so a burst of double
clicks cannot create two Leads.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable, Mapping
from typing import Any

import redis
import structlog
from simple_salesforce import format_soql

from bridge.forms.models import PushStatus
from bridge.matching.rules import parse_text
from bridge.matching.service import IndexUnavailable, MatchService
from bridge.matching.store import IndexStore
from bridge.salesforce import soql

log = structlog.get_logger(__name__)

SAME_PERSON = parse_text("email:eq")
LOCK_SECONDS = 30
LOCK_WAIT_SECONDS = 5.0
_LOCK_PREFIX = "bridge:forms:person:"
# Salesforce requires these on a Lead; a form need not ask for them.
MISSING_COMPANY = "[not provided]"
WRITABLE = {
    "Lead": ("FirstName", "LastName", "Email", "Phone", "Company", "Title"),
    "Contact": ("FirstName", "LastName", "Email", "Phone", "Title"),
}


class SalesforcePush:
    def __init__(
        self,
        gateway: Callable[[], Any],
        client: redis.Redis,
        matcher: MatchService | None,
        store: IndexStore | None,
        *,
        assign: Callable[[int, str, Mapping[str, Any], str], str | None] | None = None,
        pools: Mapping[str, str] | None = None,
    ) -> None:
        self.gateway = gateway
        self.redis = client
        self.matcher = matcher
        self.store = store
        self.assign = assign
        self.pools = dict(pools or {})

    def push(self, tenant_id: int, lead: Mapping[str, Any], request_id: str) -> PushStatus:
        email = str(lead["Email"]).lower()
        lock = f"{_LOCK_PREFIX}{tenant_id}:{hashlib.sha256(email.encode()).hexdigest()[:24]}"
        if not self._acquire(lock, request_id):
            return PushStatus(target="salesforce", success=False, error="person locked")
        try:
            return self._push(tenant_id, lead, request_id)
        finally:
            if self.redis.get(lock) == request_id.encode():
                self.redis.delete(lock)

    def _acquire(self, lock: str, owner: str) -> bool:
        until = time.monotonic() + LOCK_WAIT_SECONDS
        while not self.redis.set(lock, owner, nx=True, ex=LOCK_SECONDS):
            if time.monotonic() > until:
                return False
            time.sleep(0.02)
        return True

    def _push(self, tenant_id: int, lead: Mapping[str, Any], request_id: str) -> PushStatus:
        sf = self.gateway()
        found = self.find(tenant_id, lead)
        if found is not None:
            sobject, record_id = found
            change = {k: v for k, v in lead.items() if k in WRITABLE[sobject] and v}
            result = sf.update(sobject, [{"Id": record_id, **change}])[0]
            if not result.success:
                return _refused(sobject, record_id, result)
            return PushStatus(target="salesforce", success=True, action="updated",
                              sobject=sobject, record_id=record_id)  # fmt: skip
        record = {k: v for k, v in lead.items() if v}
        record.setdefault("Company", MISSING_COMPANY)
        record.setdefault("LastName", str(lead["Email"]).split("@")[0])
        result = sf.create("Lead", [record])[0]
        if not result.success or not result.id:
            return _refused("Lead", None, result)
        self.remember(tenant_id, "Lead", {"Id": result.id, "IsConverted": False, **record})
        owner = None
        pool = self.pools.get("Lead")
        if self.assign is not None and pool:
            owner = self.assign(tenant_id, result.id, {"Id": result.id}, pool)
        return PushStatus(target="salesforce", success=True, action="created", sobject="Lead",
                          record_id=result.id, assigned_to=owner)  # fmt: skip

    def find(self, tenant_id: int, lead: Mapping[str, Any]) -> tuple[str, str] | None:
        """(object, id) of the Lead or Contact this person already is, if any."""
        candidate = {k: v for k, v in lead.items() if k in WRITABLE["Lead"]}
        if self.matcher is not None:
            try:
                index = self.matcher.index_for(tenant_id)
            except IndexUnavailable as exc:
                log.info("forms.match_index_unavailable", reason=str(exc))
            else:
                for sobject in ("Lead", "Contact"):
                    outcome = self.matcher.match_in(index, sobject, [candidate], SAME_PERSON)[0]
                    if outcome.matches:
                        return sobject, outcome.matches[0].id
                return None
        return self._lookup(lead["Email"])

    def _lookup(self, email: str) -> tuple[str, str] | None:
        sf = self.gateway()
        lookups = (
            ("Lead", " WHERE Email = {} AND IsConverted = false LIMIT 1"),
            ("Contact", " WHERE Email = {} LIMIT 1"),
        )
        for sobject, where in lookups:
            rows = sf.query_all(soql.select(sobject, ["Id"]) + format_soql(where, email))
            if rows:
                return sobject, str(rows[0]["Id"])
        return None

    def remember(self, tenant_id: int, sobject: str, record: Mapping[str, Any]) -> None:
        """The next submission of this person must find it before the next poll does."""
        if self.store is None:
            return
        if self.store.generation(tenant_id) is None:
            return  # never built: the first build will load it from Salesforce
        self.store.upsert(tenant_id, sobject, [dict(record)])


def _refused(sobject: str, record_id: str | None, result: Any) -> PushStatus:
    errors = "; ".join(f"{e.status_code}: {e.message}" for e in result.errors)[:500]
    return PushStatus(target="salesforce", success=False, sobject=sobject,
                      record_id=record_id, error=errors or "refused")  # fmt: skip
