"""The pipeline's `convert` step: lead conversion with the duplicate pre-check, in batches.

Off unless configured (converting is irreversible): `enabled: true` in the step's options.

    - name: convert
      when: {IsConverted: false, Status: Qualified}
      options:
        enabled: true
        match_policy:                       # as in POST /v1/salesforce/convert (null: none)
          contact: {by: ["email:eq", "name_company:fuzzy0.8"], create_if_no_match: true}
          account: {by: ["domain:eq", "name:fuzzy0.85"], create_if_no_match: true}
        merge_policy: {on_contact_match: merge_lead_into_contact,
                       on_account_match: attach_to_account}
        set_owner_round_robin_pool: inbound   # optional

The batch goes through the same ConversionService as the API: one pre-check over the batch,
one Redis round trip for the owners, convertLead 100 leads per SOAP call, route logs in one
transaction. A lead left unconverted (no match with create_if_no_match false, Salesforce
refused) is reported to the pipeline as that record's failure and has a skip/error route log.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import structlog
from pydantic import ValidationError

from bridge.conversion.factory import build_service, policy_from_request
from bridge.conversion.plan import FAILED, Policy
from bridge.conversion.service import ConversionService

log = structlog.get_logger(__name__)
POLICY_KEYS = ("match_policy", "merge_policy", "set_owner_round_robin_pool", "logs")


class ConvertStep:
    name = "convert"

    def __init__(self, service: ConversionService, policy: Policy) -> None:
        self.service = service
        self.policy = policy

    def fields(self, sobject: str) -> set[str]:
        return {"IsConverted"} if sobject == "Lead" else set()

    def run(self, context: Any) -> None:
        if context.object != "Lead":
            return
        ids = [r["Id"] for r in context.records if not r.get("IsConverted")]
        if not ids:
            return
        request_ids = {rid: item.request_id for rid, item in context.items.items()}
        outcomes = self.service.convert_many(
            context.tenant_id, ids, self.policy, request_ids=request_ids
        )
        counts: dict[str, int] = {}
        for outcome in outcomes:
            counts[outcome.status] = counts.get(outcome.status, 0) + 1
            if outcome.status == FAILED:
                reason = outcome.actions[-1]["message"] if outcome.actions else "failed"
                context.fail(outcome.lead_id, f"convert: {reason}")
        for record in context.records:  # later steps see the conversion
            if any(o.lead_id == record["Id"] and o.status != FAILED for o in outcomes):
                record["IsConverted"] = True
        log.info("conversion.step", **counts)


def _policy(options: Mapping[str, Any], settings: Any) -> Policy:
    from bridge.conversion.models import ConvertRequest

    raw = {k: options[k] for k in POLICY_KEYS if k in options}
    try:  # the lead id is a placeholder: only the policy is read
        body = ConvertRequest.model_validate({"lead_sf_id": "00Q000000000000", **raw})
    except ValidationError as exc:
        raise ValueError(f"convert step options: {exc}") from None
    return policy_from_request(body, create_opportunity=settings.conversion_create_opportunity)


def build_step(options: Mapping[str, Any], deps: Any) -> ConvertStep | None:
    """The registry's builder. None (skipped) unless `enabled: true` and the object is Lead."""
    if not options.get("enabled") or str(options.get("object", "Lead")) != "Lead":
        return None
    policy = _policy(options, deps.settings)
    matching = None
    if policy.matching:
        shared = deps.shared.get("matching")
        if shared is None:
            from bridge.matching.factory import build_service as build_matching

            gateway = (lambda: deps.gateway) if deps.gateway is not None else None
            shared = build_matching(deps.settings, deps.redis, deps.db, gateway)
            deps.shared["matching"] = shared
        matching = shared[0]
    routing = None
    if policy.pool:
        routing = deps.shared.get("routing")
        if routing is None:
            from bridge.routing.step import routing_service

            routing = routing_service(deps.db, deps.redis, deps.gateway, deps.settings)
            deps.shared["routing"] = routing
    service = build_service(
        deps.db, deps.gateway, matching, routing, client=deps.redis,
        refresh=deps.settings.conversion_refresh_index,
    )  # fmt: skip
    return ConvertStep(service, policy)
