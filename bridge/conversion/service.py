"""Lead conversion with duplicate prevention: the one implementation behind
POST /v1/salesforce/convert and the pipeline's `convert` step.

Per batch of leads (one lead for the API):
  1. read the leads; an already converted lead is a `duplicate` (its existing ids come back);
  2. pre-check (when the policy asks): the lead's own fields are matched against the tenant's
     Contacts and Accounts with the matcher's rules; a match that passes the merge policy is
     the record the lead converts INTO (convertLead's contactId/accountId), never beside it;
     no match with `create_if_no_match: false` leaves the lead unconverted (`failed`);
  3. owner from a round-robin pool (the routing service's atomic pick, passed as ownerId);
  4. convertLead through the gateway (100 per SOAP call), re-picking an owner Salesforce
     refuses as inactive;
  5. the records are read again and every conversion and merge gets a route log with the field
     diff (merges are irreversible in Salesforce), all in one transaction; a pick's assign log
     is written once (not again for a replayed pick) in its own savepoint.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

import structlog

from bridge.conversion import precheck
from bridge.conversion.diff import (
    ACCOUNT_FIELDS,
    CONTACT_FIELDS,
    LEAD_FIELDS,
    by_id,
)
from bridge.conversion.plan import (
    CONVERTED,
    DUPLICATE,
    FAILED,
    ConversionUnavailable,
    LeadNotFound,
    Outcome,
    Plan,
    Policy,
)
from bridge.conversion.route_log import write_route_logs
from bridge.db import Database
from bridge.matching.service import MatchService
from bridge.routing.batch import INACTIVE_OWNER, MAX_REFUSALS, codes
from bridge.routing.errors import NoMemberAvailable
from bridge.routing.service import RoutingService
from bridge.salesforce.gateway import SalesforceGateway

log = structlog.get_logger(__name__)

CONVERTED_LEAD = "CANNOT_UPDATE_CONVERTED_LEAD"  # convertLead on a lead already converted

GatewaySource = SalesforceGateway | Callable[[], SalesforceGateway] | None


class ConversionService:
    def __init__(
        self,
        db: Database,
        gateway: GatewaySource,
        matching: MatchService | None,
        routing: RoutingService | None,
        *,
        refresh_index: Callable[[int], Any] | None = None,
    ) -> None:
        self.db = db
        self._gateway = gateway  # a callable opens it on first use
        self.matching = matching
        self.routing = routing
        self.refresh_index = refresh_index

    def sf(self) -> SalesforceGateway:
        if self._gateway is None:
            raise ConversionUnavailable("Salesforce is not configured")
        if not isinstance(self._gateway, SalesforceGateway):
            try:
                self._gateway = self._gateway()
            except ValueError as exc:  # settings name no usable org
                raise ConversionUnavailable(str(exc)) from None
        return self._gateway

    def ensure_org(self, tenant_id: int) -> None:
        """The connected org must belong to the tenant: nobody converts another's leads."""
        from bridge.tenants.service import tenant_for_org

        org_id = self.sf().org_id
        if org_id is None or tenant_for_org(self.db, org_id) != tenant_id:
            raise ConversionUnavailable("no Salesforce org is connected to this tenant")

    def check_pool(self, tenant_id: int, policy: Policy) -> None:
        """Raises PoolNotFound before any work when the pool does not exist."""
        if policy.pool:
            if self.routing is None:
                raise ConversionUnavailable("round-robin routing is not available")
            self.routing.pools.require(tenant_id, policy.pool)

    # -- the whole flow ---------------------------------------------------------------------
    def convert(
        self,
        tenant_id: int,
        lead_id: str,
        policy: Policy,
        *,
        idempotency_key: str | None = None,
        request_id: str | None = None,
    ) -> Outcome:
        """One lead (the API). Raises LeadNotFound, PoolNotFound, NoMemberAvailable,
        IndexUnavailable-as-ConversionUnavailable, SalesforceError."""
        self.check_pool(tenant_id, policy)
        outcome = self.convert_many(
            tenant_id, [lead_id], policy, idempotency_key=idempotency_key,
            request_ids={lead_id: request_id} if request_id else None, strict=True,
        )  # fmt: skip
        return outcome[0]

    def convert_many(
        self,
        tenant_id: int,
        lead_ids: Sequence[str],
        policy: Policy,
        *,
        idempotency_key: str | None = None,
        request_ids: Mapping[str, str] | None = None,
        strict: bool = False,
    ) -> list[Outcome]:
        """Convert leads in batches; one Outcome per id, in order. `strict` (one lead, the
        API): a missing lead or an empty pool raises instead of failing that lead."""
        gw = self.sf()
        leads = by_id(gw.fetch("Lead", lead_ids, LEAD_FIELDS))
        outcomes: dict[str, Outcome] = {}
        plans: list[Plan] = []
        for lead_id in lead_ids:
            lead = leads.get(lead_id)
            if lead is None:
                if strict:
                    raise LeadNotFound(lead_id)
                outcomes[lead_id] = _not_found(lead_id)
            elif lead.get("IsConverted"):
                outcomes[lead_id] = _duplicate(lead)
            else:
                plans.append(Plan(lead))
        if plans and policy.matching:
            self._precheck(tenant_id, plans, policy)
        contacts = self._contacts(gw, plans, policy)
        self._pick_owners(tenant_id, plans, policy, idempotency_key, strict)
        self._create_accounts(gw, plans)
        accounts = by_id(
            gw.fetch("Account", {p.account_id for p in plans if _live(p) and p.account_id},
                     ACCOUNT_FIELDS)
        )  # fmt: skip
        self._convert(tenant_id, gw, plans, policy, idempotency_key)
        for plan in plans:
            outcomes[plan.lead_id] = self._finish_outcome(plan, policy)
        write_route_logs(self.db, self.routing, gw, tenant_id, plans, policy, contacts, accounts,
                         idempotency_key, request_ids or {}, outcomes)  # fmt: skip
        return [outcomes[i] for i in lead_ids]

    # -- steps --------------------------------------------------------------------------------
    def _precheck(self, tenant_id: int, plans: list[Plan], policy: Policy) -> None:
        if self.matching is None:
            raise ConversionUnavailable("matching is not available")
        if self.refresh_index is not None:
            try:  # records created since the last poll must be found too
                self.refresh_index(tenant_id)
            except Exception as exc:
                log.warning("conversion.index_refresh_failed", error=type(exc).__name__)
        from bridge.matching.service import IndexUnavailable

        try:
            index = self.matching.index_for(tenant_id)
        except IndexUnavailable as exc:
            raise ConversionUnavailable(str(exc)) from None
        precheck.decide(self.matching, index, plans, policy)

    def _contacts(self, gw: SalesforceGateway, plans: list[Plan], policy: Policy) -> dict[str, Any]:
        """Read the contacts leads go into: Salesforce converts into a contact only with the
        contact's own account."""
        wanted = {p.contact_id for p in plans if _live(p) and p.contact_id}
        contacts = by_id(gw.fetch("Contact", wanted, CONTACT_FIELDS)) if wanted else {}
        for plan in plans:
            if _live(plan) and plan.contact_id:
                precheck.settle_account(plan, contacts.get(plan.contact_id), policy)
        return contacts

    def _pick_owners(
        self,
        tenant_id: int,
        plans: list[Plan],
        policy: Policy,
        key: str | None,
        strict: bool,
    ) -> None:
        live = [p for p in plans if _live(p)]
        if not policy.pool or not live:
            return
        assert self.routing is not None
        if len(live) == 1:
            try:
                live[0].pick = self.routing.pick(
                    tenant_id, policy.pool, live[0].lead_id,
                    exclude_inactive=policy.exclude_inactive, idempotency_key=key,
                )  # fmt: skip
            except NoMemberAvailable as exc:
                if strict:
                    raise
                live[0].fail(f"no owner: {exc}")
        else:
            picks = self.routing.pick_many(
                tenant_id, policy.pool, [p.lead_id for p in live],
                exclude_inactive=policy.exclude_inactive,
            )  # fmt: skip
            for plan, pick in zip(live, picks, strict=True):
                if isinstance(pick, NoMemberAvailable):
                    plan.fail(f"no owner: {pick}")
                else:
                    plan.pick = pick
        for plan in live:
            if plan.pick is not None:
                _act_owner(plan, policy.pool)

    def _create_accounts(self, gw: SalesforceGateway, plans: list[Plan]) -> None:
        """A matched contact without an account: convertLead needs an account with it."""
        needing = [p for p in plans if _live(p) and p.contact_id and not p.account_id]
        if not needing:
            return
        body = []
        for plan in needing:
            values: dict[str, Any] = {"Name": plan.lead.get("Company") or plan.lead["LastName"]}
            if plan.pick:
                values["OwnerId"] = plan.pick.assigned_to
            body.append(values)
        for plan, result in zip(needing, gw.create("Account", body), strict=True):
            if result.success:
                plan.account_id, plan.created_account = result.id, True
                plan.act("create_account", f"created Account {result.id} for contact "
                         f"{plan.contact_id}, which had none", object="Account",
                         sf_id=result.id)  # fmt: skip
            else:
                errors = "; ".join(f"{e.status_code}: {e.message}" for e in result.errors)
                plan.fail(f"account for contact {plan.contact_id} refused: {errors}", "error")

    def _convert(
        self,
        tenant_id: int,
        gw: SalesforceGateway,
        plans: list[Plan],
        policy: Policy,
        key: str | None,
    ) -> None:
        pending = [p for p in plans if _live(p)]
        for round_no in range(MAX_REFUSALS + 1):
            if not pending:
                break  # not return: the refused leads below must still be marked failed
            results = gw.convert_leads([p.convert(policy.create_opportunity) for p in pending])
            again = []
            for plan, result in zip(pending, results, strict=True):
                plan.result = result
                if result.success or not (plan.pick and INACTIVE_OWNER in codes(result)):
                    continue
                if round_no == MAX_REFUSALS:
                    continue  # refused too often; the later leads' results still count
                assert self.routing is not None and policy.pool
                self.routing.refused_owner(plan.pick.assigned_to)
                plan.refused_picks.append(plan.pick)
                plan.act("owner_refused", f"Salesforce refused {plan.pick.assigned_to} as an "
                         "inactive owner; picking again", sf_id=plan.pick.assigned_to)  # fmt: skip
                try:
                    plan.pick = self.routing.pick(
                        tenant_id, policy.pool, plan.lead_id,
                        exclude_inactive=policy.exclude_inactive, idempotency_key=key,
                        replace=True, refused=plan.refused,
                    )  # fmt: skip
                except NoMemberAvailable as exc:
                    plan.result = None
                    plan.fail(f"no owner: {exc}")
                    continue
                _act_owner(plan, policy.pool)
                again.append(plan)
            pending = again
        refused = {p.lead_id: p.result for p in plans
                   if p.result is not None and not p.result.success and not p.failed}  # fmt: skip
        # Converted meanwhile by another request (no Idempotency-Key): answer as a duplicate
        # with the ids it went into, as if this request had read the lead a moment later.
        raced = [i for i, r in refused.items() if CONVERTED_LEAD in codes(r)]
        now = by_id(gw.fetch("Lead", raced, LEAD_FIELDS)) if raced else {}
        for plan in plans:
            result = refused.get(plan.lead_id)
            if result is None:
                continue
            lead = now.get(plan.lead_id)
            if lead is not None and lead.get("IsConverted"):
                plan.converted_by_other = lead
                continue
            errors = "; ".join(f"{e.status_code}: {e.message}" for e in result.errors)
            plan.fail(f"Salesforce refused the conversion: {errors}", "error")

    def _finish_outcome(self, plan: Plan, policy: Policy) -> Outcome:
        if plan.converted_by_other is not None:
            return _duplicate(plan.converted_by_other, plan.actions)
        if plan.failed or plan.result is None or not plan.result.success:
            return Outcome(plan.lead_id, FAILED, actions=plan.actions, matched=policy.matching,
                           owner_id=plan.lead.get("OwnerId"))  # fmt: skip
        result = plan.result
        return Outcome(
            plan.lead_id, CONVERTED, account_id=result.account_id, contact_id=result.contact_id,
            owner_id=plan.pick.assigned_to if plan.pick else None, actions=plan.actions,
            matched=policy.matching,
        )  # fmt: skip


def _live(plan: Plan) -> bool:
    return not plan.failed


def _act_owner(plan: Plan, pool: str | None) -> None:
    pick = plan.pick
    assert pick is not None
    again = " (this lead's earlier pick, rotation not advanced)" if pick.cached else ""
    plan.act("assign_owner", f"picked owner {pick.assigned_to} from pool {pool} "
             f"(sequence {pick.sequence}){again}", object="User", sf_id=pick.assigned_to,
             pool=pool, sequence=pick.sequence)  # fmt: skip


def _not_found(lead_id: str) -> Outcome:
    out = Outcome(lead_id, FAILED)
    out.actions.append({"type": "error", "message": f"lead {lead_id} does not exist",
                        "object": "Lead", "sf_id": lead_id})  # fmt: skip
    return out


def _duplicate(lead: Mapping[str, Any], actions: Sequence[dict[str, Any]] = ()) -> Outcome:
    lead_id = str(lead["Id"])
    account, contact = lead.get("ConvertedAccountId"), lead.get("ConvertedContactId")
    out = Outcome(lead_id, DUPLICATE, account_id=account, contact_id=contact,
                  owner_id=lead.get("OwnerId"), actions=list(actions))  # fmt: skip
    out.actions.append({
        "type": "duplicate", "object": "Lead", "sf_id": lead_id,
        "message": f"lead {lead_id} was already converted (on {lead.get('ConvertedDate')}) "
        f"into account {account} and contact {contact}; nothing done",
    })  # fmt: skip
    return out
