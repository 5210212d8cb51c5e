"""The steps a workflow can list, each a function of (job context, options).

They reuse the domain services: the enrichment cascade, the matcher (through the forms
push's `find`, Leads/Contacts by email), the gateway for writes, routing's batch assigner,
the conversion service (`bridge.workflows.convert`) and the signed webhook push. A step raises
`StepFailed` for a permanent problem (the job fails) and lets transient errors (Salesforce 5xx,
Redis, network) propagate (the job is retried).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import aiohttp

from bridge.enrichment.results import Subject
from bridge.enrichment.service import EnrichmentService
from bridge.forms import webhook_push
from bridge.forms.enrich import DEFAULT_FIELDS
from bridge.forms.salesforce_push import SalesforcePush
from bridge.workflows.convert import convert
from bridge.workflows.errors import StepFailed

if TYPE_CHECKING:
    from bridge.conversion.service import ConversionService

__all__ = ["STEPS", "JobContext", "StepFailed", "StepServices"]

# Salesforce field -> subject fact, for the records the steps see.
FACTS = {
    "FirstName": "first_name", "LastName": "last_name", "Email": "email", "Phone": "phone",
    "MobilePhone": "mobile_phone", "Title": "title", "Company": "company",
    "Website": "website", "Country": "country", "State": "state",
    "MailingCountry": "country", "MailingState": "state", "Name": "company",
    "BillingCountry": "country", "BillingState": "state",
}  # fmt: skip
# Enriched field -> Salesforce field, written where the record has no value (or OVERWRITE).
FILLS = {"phone": "Phone", "email": "Email", "title": "Title", "website": "Website",
         "country_name": "Country"}  # fmt: skip
# Normalised forms (E.164 phone, lower-cased email domain) replace what was typed.
OVERWRITE = frozenset({"phone", "email"})
PERSON_OBJECTS = ("Lead", "Contact")


@dataclass
class JobContext:
    tenant_id: int
    object: str
    record: dict[str, Any]
    enrichment: Mapping[str, Any] | None
    request_id: str
    job_id: str
    match: tuple[str, str] | None = None
    record_id: str | None = None
    facts: dict[str, Any] = field(default_factory=dict)


@dataclass
class StepServices:
    enrichment: EnrichmentService | None
    salesforce: SalesforcePush | None
    assign: Callable[[int, str, str, str], str | None] | None
    pools: Mapping[str, str]
    webhook_secret: str
    budget_credits: int
    # Opened on first use (it needs the gateway); None: no Salesforce configured.
    conversion: Callable[[], ConversionService] | None = None
    create_opportunity: bool = False


def enrich(ctx: JobContext, options: Mapping[str, Any], deps: StepServices) -> dict[str, Any]:
    prefs = ctx.enrichment or {}
    if prefs.get("enabled") is False:
        return {"skipped": "enrichment disabled by the trigger"}
    if deps.enrichment is None:
        raise StepFailed("enrichment is not available")
    facts = {FACTS[k]: v for k, v in ctx.record.items() if k in FACTS and v not in (None, "")}
    kind = "person" if ctx.object in PERSON_OBJECTS else "company"
    subject = Subject.of(kind, f"wf:{ctx.job_id}", facts)
    wanted = list(prefs.get("fields") or options.get("fields") or DEFAULT_FIELDS)
    result = deps.enrichment.enrich(ctx.tenant_id, f"workflow:{ctx.object}", subject, wanted,
                                    budget=deps.budget_credits)  # fmt: skip
    filled = []
    for name, sf_field in FILLS.items():
        empty = ctx.record.get(sf_field) in (None, "")
        if name in result.values and (empty or name in OVERWRITE):
            ctx.record[sf_field] = result.values[name].value
            filled.append(sf_field)
    ctx.facts["enrichment"] = {k: v.value for k, v in result.values.items()}
    return {"found": sorted(result.values), "filled": filled, "skipped": result.skipped}


def match(ctx: JobContext, options: Mapping[str, Any], deps: StepServices) -> dict[str, Any]:
    if ctx.record.get("Id"):
        ctx.match = (ctx.object, str(ctx.record["Id"]))
        return {"matched": ctx.match[1], "by": "Id"}
    if ctx.object not in PERSON_OBJECTS or not ctx.record.get("Email"):
        return {"matched": None, "reason": "no email to match on"}
    if deps.salesforce is None:
        raise StepFailed("Salesforce is not connected")
    found = deps.salesforce.find(ctx.tenant_id, ctx.record)
    ctx.match = found
    return {"matched": found[1] if found else None, "object": found[0] if found else None}


def push_salesforce(
    ctx: JobContext, options: Mapping[str, Any], deps: StepServices
) -> dict[str, Any]:
    if deps.salesforce is None:
        raise StepFailed("Salesforce is not connected")
    sf = deps.salesforce.gateway()
    fields = {k: v for k, v in ctx.record.items() if k != "Id" and v not in (None, "")}
    if ctx.match is not None:
        sobject, record_id = ctx.match
        if sobject == "Contact":
            fields.pop("Company", None)  # not a Contact field
        result = sf.update(sobject, [{"Id": record_id, **fields}])[0]
        action = "updated"
    else:
        sobject = ctx.object
        result = sf.create(sobject, [fields])[0]
        record_id, action = result.id, "created"
    if not result.success or not record_id:
        errors = "; ".join(f"{e.status_code}: {e.message}" for e in result.errors)
        raise StepFailed(f"Salesforce refused the {action[:-1]}: {errors}"[:500])
    ctx.record_id = record_id
    if action == "created" and sobject in PERSON_OBJECTS:
        deps.salesforce.remember(ctx.tenant_id, sobject, {"Id": record_id, **fields})
    return {"action": action, "object": sobject, "record_id": record_id}


def assign(ctx: JobContext, options: Mapping[str, Any], deps: StepServices) -> dict[str, Any]:
    pool = options.get("pool") or deps.pools.get(ctx.object)
    if not pool:
        return {"skipped": f"no routing pool for {ctx.object}"}
    record_id = ctx.record_id or (ctx.match[1] if ctx.match else None)
    if record_id is None:
        raise StepFailed("assign needs a Salesforce record (push_salesforce first)")
    if deps.assign is None:
        raise StepFailed("routing is not available")
    owner = deps.assign(ctx.tenant_id, ctx.object, record_id, str(pool))
    return {"pool": pool, "record_id": record_id, "assigned_to": owner}


def push_url(ctx: JobContext, options: Mapping[str, Any], deps: StepServices) -> dict[str, Any]:
    url = options.get("url")
    if not url:
        raise StepFailed("push_url needs options.url")
    payload = {"type": "workflow.record", "job_id": ctx.job_id, "object": ctx.object,
               "record_id": ctx.record_id, "record": ctx.record}  # fmt: skip
    if "conversion" in ctx.facts:  # the Contact and Account a convert step made
        payload["conversion"] = ctx.facts["conversion"]

    async def send() -> Any:
        async with aiohttp.ClientSession() as session:
            return await webhook_push.push(
                session, str(url), payload, webhook_id=f"wf_{ctx.job_id}",
                secret=deps.webhook_secret, attempts=int(options.get("attempts", 3)),
                deadline=time.monotonic() + float(options.get("timeout_seconds", 10)),
            )  # fmt: skip

    status = asyncio.run(send())
    if not status.success:
        raise ConnectionError(f"push_url failed: {status.error}")  # transient: job retried
    return {"status_code": status.status_code, "attempts": status.attempts}


STEPS: dict[str, Callable[[JobContext, Mapping[str, Any], StepServices], dict[str, Any]]] = {
    "enrich": enrich,
    "match": match,
    "push_salesforce": push_salesforce,
    "assign": assign,
    "convert": convert,
    "push_url": push_url,
}
