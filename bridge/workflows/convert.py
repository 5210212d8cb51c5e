"""The workflow `convert` step: the job's Lead converted through the conversion service, the
same one behind POST /v1/salesforce/convert and the pipeline's `convert` step (duplicate
pre-check, merge policy, round-robin owner, Salesforce's own converted status, route logs).

    - name: convert
      options:                              # all optional, as in POST /v1/salesforce/convert
        match_policy: {contact: {by: ["email:eq"]}, account: {by: ["domain:eq"]}}
        merge_policy: {on_contact_match: merge_lead_into_contact}
        set_owner_round_robin_pool: inbound
        logs: {reason: "qualified by Eloqua"}

The Lead is the one `push_salesforce` wrote, else the one `match` found (or `record_data.Id`).
A person matched as a Contact is already converted: the step does nothing. The job id is the
conversion's idempotency key, so a retried job keeps its round-robin owner, and a lead that was
converted before a crash is answered `duplicate` on the next attempt instead of failing.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from pydantic import ValidationError

from bridge.conversion.factory import policy_from_request
from bridge.conversion.models import ConvertRequest
from bridge.conversion.plan import FAILED, ConversionUnavailable, LeadNotFound, Outcome
from bridge.routing.errors import NoMemberAvailable
from bridge.routing.pools import PoolNotFound
from bridge.salesforce import ids as sf_ids
from bridge.salesforce.errors import InvalidId
from bridge.workflows.errors import StepFailed

if TYPE_CHECKING:  # steps.py registers this step: only its types are needed here
    from bridge.workflows.steps import JobContext, StepServices

POLICY_KEYS = frozenset({"match_policy", "merge_policy", "set_owner_round_robin_pool", "logs"})
# A placeholder lead: only the policy part of the request is read from the options.
_PLACEHOLDER_LEAD = "00Q000000000000"
# Contact fields the match index learns from a Contact the conversion created.
_CONTACT_FIELDS = ("FirstName", "LastName", "Email", "Phone", "MobilePhone", "Title")


class ConvertOptionsError(ValueError):
    """The step's options are not a conversion policy; the message says which key."""


def convert_request(options: Mapping[str, Any]) -> ConvertRequest:
    """The options as the API's request model (same validation, same defaults)."""
    unknown = sorted(set(options) - POLICY_KEYS)
    if unknown:
        raise ConvertOptionsError(
            f"convert options: unknown {unknown}; allowed: {sorted(POLICY_KEYS)}"
        )
    try:
        return ConvertRequest.model_validate({"lead_sf_id": _PLACEHOLDER_LEAD, **options})
    except ValidationError as exc:
        raise ConvertOptionsError(f"convert options: {exc}") from None


def routes(options: Mapping[str, Any]) -> bool:
    """A convert step that picks the owner from a pool is routing (the documented +1)."""
    return bool(options.get("set_owner_round_robin_pool"))


def lead_to_convert(ctx: JobContext) -> tuple[str | None, str | None]:
    """(lead id, None) or (None, why there is nothing to convert)."""
    if ctx.match is not None and ctx.match[0] != "Lead":
        return None, f"the person is already a {ctx.match[0]} ({ctx.match[1]})"
    candidate = ctx.record_id or (ctx.match[1] if ctx.match else None) or ctx.record.get("Id")
    return (str(candidate), None) if candidate else (None, None)


def convert(ctx: JobContext, options: Mapping[str, Any], deps: StepServices) -> dict[str, Any]:
    if ctx.object != "Lead":
        raise StepFailed(f"convert works on Leads, not {ctx.object}")
    lead_id, nothing = lead_to_convert(ctx)
    if nothing:
        return {"skipped": nothing}
    if lead_id is None:
        raise StepFailed("convert needs a Lead in Salesforce (match or push_salesforce first)")
    try:
        lead_id = sf_ids.normalize(lead_id, "Lead")
    except InvalidId as exc:
        raise StepFailed(f"convert: {exc}") from None
    try:
        policy = policy_from_request(
            convert_request(options), create_opportunity=deps.create_opportunity
        )
    except ConvertOptionsError as exc:
        raise StepFailed(str(exc)) from None
    if deps.conversion is None:
        raise StepFailed("conversion is not available (no Salesforce configured)")
    service = deps.conversion()
    try:
        service.ensure_org(ctx.tenant_id)  # nobody converts another tenant's leads
        outcome = service.convert(
            ctx.tenant_id, lead_id, policy, idempotency_key=f"workflow:{ctx.job_id}",
            request_id=ctx.request_id or None,
        )  # fmt: skip
    except (LeadNotFound, PoolNotFound, ConversionUnavailable) as exc:
        raise StepFailed(f"convert: {exc}") from None
    except NoMemberAvailable as exc:
        if exc.reason == "empty":
            raise StepFailed(f"convert: {exc}") from None
        raise  # paused, away, capped: may pass, so the job is retried with backoff
    if outcome.status == FAILED:
        reason = outcome.actions[-1]["message"] if outcome.actions else "not converted"
        raise StepFailed(f"lead {lead_id} not converted: {reason}"[:500])
    ctx.record_id = lead_id
    ctx.facts["conversion"] = {"lead_id": lead_id, "account_id": outcome.account_id,
                               "contact_id": outcome.contact_id}  # fmt: skip
    _teach_index(ctx, outcome, deps)
    return {
        "status": outcome.status, "lead_id": lead_id, "account_id": outcome.account_id,
        "contact_id": outcome.contact_id, "owner_id": outcome.owner_id,
        # Types and ids only: the messages and diffs (personal data) are in the route logs.
        "actions": [{k: a[k] for k in ("type", "object", "sf_id") if k in a}
                    for a in outcome.actions],
    }  # fmt: skip


def _teach_index(ctx: JobContext, outcome: Outcome, deps: StepServices) -> None:
    """The next trigger of this person must find the Contact, not the converted Lead, before
    the next poll tells the match index."""
    if deps.salesforce is None:
        return
    deps.salesforce.remember(ctx.tenant_id, "Lead", {"Id": outcome.lead_id, "IsConverted": True})
    created = any(a["type"] == "create" and a.get("object") == "Contact" for a in outcome.actions)
    if created and outcome.contact_id:
        fields = {k: ctx.record[k] for k in _CONTACT_FIELDS if ctx.record.get(k)}
        deps.salesforce.remember(ctx.tenant_id, "Contact", {
            "Id": outcome.contact_id, "AccountId": outcome.account_id, **fields,
        })  # fmt: skip
