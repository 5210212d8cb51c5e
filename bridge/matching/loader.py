"""Filling the match index from Salesforce: a full load, and polling for changes since.

Both go through the gateway (the one door to Salesforce). The full load reads every Account,
Contact, unconverted Lead and Opportunity (only Id and AccountId, for the tie-breakers) with
`query_all_iter`; the refresh reads changed rows after a (SystemModstamp, Id) watermark per
object, deleted ones included, so the index also forgets deletions and conversions.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol

import structlog

from bridge.matching.store import PREFIX, IndexStore

log = structlog.get_logger(__name__)

INDEX_FIELDS: dict[str, tuple[str, ...]] = {
    "Account": ("Id", "Name", "Website", "Phone", "BillingStreet", "BillingCity", "BillingState",
                "BillingPostalCode", "BillingCountry", "CreatedDate"),
    "Contact": ("Id", "FirstName", "LastName", "Email", "Phone", "MobilePhone", "AccountId",
                "Account.Name", "MailingStreet", "MailingCity", "MailingState",
                "MailingPostalCode", "MailingCountry", "CreatedDate"),
    "Lead": ("Id", "FirstName", "LastName", "Company", "Email", "Phone", "MobilePhone", "Website",
             "Street", "City", "State", "PostalCode", "Country", "CreatedDate", "IsConverted"),
    "Opportunity": ("Id", "AccountId"),
}  # fmt: skip
_WHERE = {"Lead": " WHERE IsConverted = false"}
# Re-read this far behind the watermark: rows that became visible late come back (idempotent).
LOOKBACK = timedelta(seconds=60)


class Gateway(Protocol):
    def query_all_iter(
        self, query: str, include_deleted: bool = False
    ) -> Iterator[dict[str, Any]]: ...

    def changed_since(self, sobject: str, fields: Any, watermark_ts: Any, watermark_id: Any = None,
                      **kwargs: Any) -> Iterator[Any]: ...  # fmt: skip


def _watermark_key(tenant_id: int, sobject: str) -> str:
    return f"{PREFIX}{tenant_id}:watermark:{sobject.lower()}"


def full_load(gateway: Gateway, sobject: str) -> Iterator[dict[str, Any]]:
    fields = ", ".join(INDEX_FIELDS[sobject])
    # Field and object names are constants of this module; no caller value enters the SOQL.
    query = f"SELECT {fields} FROM {sobject}{_WHERE.get(sobject, '')}"  # noqa: S608
    return gateway.query_all_iter(query)


def rebuild(store: IndexStore, tenant_id: int, gateway: Gateway) -> dict[str, int]:
    """Replace the tenant's index with a fresh full load; polling resumes from its start."""
    started = datetime.now(UTC) - LOOKBACK
    loaded = {sobject.lower(): list(full_load(gateway, sobject)) for sobject in INDEX_FIELDS}
    store.replace_all(tenant_id, loaded)
    mark = json.dumps({"ts": started.isoformat(), "id": None})
    for sobject in INDEX_FIELDS:
        store.redis.set(_watermark_key(tenant_id, sobject), mark)
    counts = {k: len(v) for k, v in loaded.items()}
    log.info("matching.index_rebuilt", tenant_id=tenant_id, **counts)
    return counts


def refresh(store: IndexStore, tenant_id: int, gateway: Gateway) -> dict[str, int]:
    """Apply every change since the last refresh (or rebuild) to the stored index."""
    applied: dict[str, int] = {}
    for sobject, fields in INDEX_FIELDS.items():
        raw = store.redis.get(_watermark_key(tenant_id, sobject))
        if raw is None:
            continue  # never built: a refresh has nothing to refresh
        mark = json.loads(raw)
        ts = datetime.fromisoformat(mark["ts"]) if mark["ts"] else None
        count = 0
        for page in gateway.changed_since(
            sobject, list(fields), ts, mark["id"], include_deleted=True
        ):
            live = [r for r in page.records if not r.get("IsDeleted") and not r.get("IsConverted")]
            gone = [
                str(r["Id"]) for r in page.records if r.get("IsDeleted") or r.get("IsConverted")
            ]
            store.upsert(tenant_id, sobject, live)
            store.remove(tenant_id, sobject, gone)
            count += len(page.records)
            wm = page.watermark
            next_ts = wm.ts - LOOKBACK if wm.ts is not None else None
            store.redis.set(
                _watermark_key(tenant_id, sobject),
                json.dumps({"ts": next_ts.isoformat() if next_ts else None, "id": None}),
            )
        applied[sobject.lower()] = count
    return applied
