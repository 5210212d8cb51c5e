"""A conversion batch's route logs: what was converted, merged, created or refused, with
field diffs, and the owner pick's assign log. Written after the Salesforce work, in one
transaction; the assign log in a savepoint, since a conversion cannot be rolled back."""

from __future__ import annotations

import contextlib
from collections.abc import Mapping, Sequence
from typing import Any

from bridge.conversion.diff import (
    ACCOUNT_FIELDS,
    CONTACT_FIELDS,
    LEAD_FIELDS,
    by_id,
    field_diff,
    snapshot,
)
from bridge.conversion.plan import CONVERTED, DUPLICATE, Outcome, Plan, Policy
from bridge.db import Database
from bridge.logs.service import record_action
from bridge.routing.batch import refusal_reason
from bridge.routing.errors import AssignmentNotLogged
from bridge.routing.service import RoutingService
from bridge.salesforce.gateway import SalesforceGateway


def write_route_logs(
    db: Database,
    routing: RoutingService | None,
    gw: SalesforceGateway,
    tenant_id: int,
    plans: list[Plan],
    policy: Policy,
    contacts_before: Mapping[str, Any],
    accounts_before: Mapping[str, Any],
    key: str | None,
    request_ids: Mapping[str, str],
    outcomes: dict[str, Outcome],
) -> None:
    """The route logs of a conversion batch: convert, merge, create, skip (refused owners),
    the failures, and the pick's assign log (in a savepoint, never rolling back the rest)."""
    if not plans:
        return
    done = [p for p in plans if outcomes[p.lead_id].status == CONVERTED]
    leads_after = by_id(gw.fetch("Lead", [p.lead_id for p in done], LEAD_FIELDS))
    accounts_after = by_id(
        gw.fetch("Account", {outcomes[p.lead_id].account_id for p in done}, ACCOUNT_FIELDS)
    )
    contacts_after = by_id(
        gw.fetch("Contact", {outcomes[p.lead_id].contact_id for p in done}, CONTACT_FIELDS)
    )
    note = f" ({policy.reason})" if policy.reason else ""
    # A replayed pick (the lead was routed in this pool before, e.g. by /v1/routing/assign)
    # already has its assign log: the convert log carries the pick, no second assign.
    replayed = [p.pick for p in done if p.pick is not None and p.pick.cached]
    logged = (
        routing.logged(tenant_id, "Lead", str(policy.pool), replayed)
        if replayed and routing is not None
        else set()
    )
    with db.session() as session:
        for plan in plans:
            outcome = outcomes[plan.lead_id]
            common = {"tenant_id": tenant_id, "request_id": request_ids.get(plan.lead_id),
                      "idempotency_key": key}  # fmt: skip
            _log_refused_owners(routing, session, tenant_id, plan, common)
            if outcome.status == DUPLICATE:
                continue  # the request that converted it wrote the route log
            if outcome.status != CONVERTED:
                # A pick made for the lead keeps its sequence accounted for (a retry
                # replays it and logs the assign then).
                pick = plan.pick
                record_action(session, object="Lead", object_id=plan.lead_id,
                              action=plan.failure_kind, reason=(plan.failure or "") + note,
                              pool=policy.pool, prev_owner=plan.lead.get("OwnerId"),
                              assigned_to=pick.assigned_to if pick else None,
                              sequence=pick.sequence if pick else None,
                              **common)  # fmt: skip
                continue
            diffs = _diffs(plan, outcome, contacts_before, accounts_before,
                           contacts_after, accounts_after, leads_after)  # fmt: skip
            prev_owner = plan.lead.get("OwnerId")
            for obj, info in (("Contact", diffs["Contact"]), ("Account", diffs["Account"])):
                if info["created"]:
                    plan.act("create", f"convertLead created {obj} {info['id']}",
                             object=obj, sf_id=info["id"],
                             diff=info["changes"] if policy.include_diff else None)  # fmt: skip
                    continue
                verb = "merged into" if obj == "Contact" else "attached to"
                reason = f"lead {plan.lead_id} {verb} {obj} {info['id']}"
                plan.act("merge", reason + f"; fields changed: {sorted(info['changes'])}",
                         object=obj, sf_id=info["id"],
                         diff=info["changes"] if policy.include_diff else None)  # fmt: skip
                record_action(session, object=obj, object_id=info["id"], action="merge",
                              reason=reason + note, diff={**info, "lead_id": plan.lead_id},
                              **common)  # fmt: skip
            plan.act("convert", f"converted lead {plan.lead_id} (status "
                     f"{leads_after.get(plan.lead_id, {}).get('Status')})", object="Lead",
                     sf_id=plan.lead_id,
                     diff=diffs["Lead"] if policy.include_diff else None)  # fmt: skip
            pick = plan.pick
            record_action(
                session, object="Lead", object_id=plan.lead_id, action="convert",
                reason=_summary(plan, outcome) + note, diff=diffs,
                pool=pick.pool if pick else None,
                assigned_to=pick.assigned_to if pick else None,
                sequence=pick.sequence if pick else None, prev_owner=prev_owner, **common,
            )  # fmt: skip
            if pick is not None and routing is not None and plan.lead_id not in logged:
                # In a savepoint: a concurrent assign that logged this pick first, or a
                # refused log (warned about; the convert log names the pick), must not roll
                # back the convert and merge logs of an irreversible conversion.
                with contextlib.suppress(AssignmentNotLogged):
                    routing.record_assign(
                        session, tenant_id, "Lead", pick, prev_owner=prev_owner,
                        reason="convert", idempotency_key=key,
                        request_id=request_ids.get(plan.lead_id),
                    )  # fmt: skip
            outcome.owner_id = outcome.owner_id or leads_after.get(plan.lead_id, {}).get("OwnerId")


def _log_refused_owners(
    routing: RoutingService | None,
    session: Any,
    tenant_id: int,
    plan: Plan,
    common: Mapping[str, Any],
) -> None:
    """A `skip` route log per owner Salesforce refused as inactive, as routing writes."""
    if routing is None:
        return
    for pick in plan.refused_picks:
        routing.record(
            session, tenant_id, "Lead", pick, prev_owner=plan.lead.get("OwnerId"),
            action="skip", reason=refusal_reason(pick.assigned_to, "the converted lead's owner"),
            idempotency_key=common["idempotency_key"], request_id=common["request_id"],
        )  # fmt: skip


def _diffs(
    plan: Plan,
    outcome: Outcome,
    contacts_before: Mapping[str, Any],
    accounts_before: Mapping[str, Any],
    contacts_after: Mapping[str, Any],
    accounts_after: Mapping[str, Any],
    leads_after: Mapping[str, Any],
) -> dict[str, Any]:
    def side(rid: str | None, into: str | None, before: Mapping[str, Any],
             after: Mapping[str, Any], fields: Sequence[str]) -> dict[str, Any]:  # fmt: skip
        created = into is None or (plan.created_account and fields is ACCOUNT_FIELDS)
        old = {} if into is None else snapshot(before.get(str(rid)), fields)
        if plan.created_account and fields is ACCOUNT_FIELDS:
            old = {}
        new = snapshot(after.get(str(rid)), fields)
        return {"id": rid, "created": created, "changes": field_diff(old, new)}

    return {
        "Lead": field_diff(
            snapshot(plan.lead, LEAD_FIELDS), snapshot(leads_after.get(plan.lead_id), LEAD_FIELDS)
        ),
        "Account": side(outcome.account_id, plan.account_id, accounts_before, accounts_after,
                        ACCOUNT_FIELDS),
        "Contact": side(outcome.contact_id, plan.contact_id, contacts_before, contacts_after,
                        CONTACT_FIELDS),
    }  # fmt: skip


def _summary(plan: Plan, outcome: Outcome) -> str:
    contact = "existing" if plan.contact_id else "new"
    account = "existing" if plan.account_id and not plan.created_account else "new"
    return (f"converted into {contact} contact {outcome.contact_id} and {account} account "
            f"{outcome.account_id}")  # fmt: skip
