"""The duplicate pre-check: which existing Contact and Account each lead converts into.

The lead's own fields are the matcher's candidate (the same rules language and engine as
/v1/match); the best match per object (confidence, then the tie-breakers) is taken when the
merge policy allows it.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from bridge.conversion.plan import Plan, Policy
from bridge.matching.engine import Match
from bridge.matching.index import MatchIndex
from bridge.matching.service import MatchService

CANDIDATE_FIELDS = (
    "FirstName", "LastName", "Company", "Email", "Phone", "MobilePhone", "Website", "Street",
    "City", "State", "PostalCode", "Country",
)  # fmt: skip


def candidate(lead: Mapping[str, Any]) -> dict[str, Any]:
    return {f: lead[f] for f in CANDIDATE_FIELDS if lead.get(f) not in (None, "")}


def decide(service: MatchService, index: MatchIndex, plans: list[Plan], policy: Policy) -> None:
    candidates = [candidate(p.lead) for p in plans]
    if policy.contact is not None:
        found = service.match_in(index, "contact", candidates, policy.contact.rules)
        for plan, outcome in zip(plans, found, strict=True):
            plan.contact_match = outcome.matches[0] if outcome.matches else None
    if policy.account is not None:
        found = service.match_in(index, "account", candidates, policy.account.rules)
        for plan, outcome in zip(plans, found, strict=True):
            plan.account_match = outcome.matches[0] if outcome.matches else None
    for plan in plans:
        _apply(plan, policy)


def _matched(plan: Plan, obj: str, match: Match) -> None:
    plan.act(f"match_{obj.lower()}", f"matched {obj} {match.id} with score {match.score:.2f}: "
             f"{match.explanation}", object=obj, sf_id=match.id, score=match.score,
             confidence=match.confidence, rules_fired=list(match.rules_fired))  # fmt: skip


def _apply(plan: Plan, policy: Policy) -> None:
    cm, am = plan.contact_match, plan.account_match
    if cm is not None:
        _matched(plan, "Contact", cm)
    elif policy.contact is not None:
        plan.act("no_match", f"no Contact matched ({policy.contact.rules})", object="Contact")
    if am is not None:
        _matched(plan, "Account", am)
    elif policy.account is not None:
        plan.act("no_match", f"no Account matched ({policy.account.rules})", object="Account")
    if cm is not None and policy.merge_contact:
        plan.contact_id = cm.id
    elif cm is not None:
        plan.act("policy", f"Contact {cm.id} not used: on_contact_match is "
                 "create_separate_contact, a new contact is created", object="Contact",
                 sf_id=cm.id)  # fmt: skip
    if am is not None and policy.attach_account:
        plan.account_id = am.id
    elif am is not None:
        plan.act("policy", f"Account {am.id} not used: on_account_match is "
                 "create_separate_account, a new account is created", object="Account",
                 sf_id=am.id)  # fmt: skip
    if cm is None and policy.contact is not None and not policy.contact.create_if_no_match:
        plan.fail("not converted: no Contact matched and match_policy.contact."
                  "create_if_no_match is false")  # fmt: skip
    elif (
        am is None
        and policy.account is not None
        and not policy.account.create_if_no_match
        and plan.contact_id is None  # a merged contact brings its own account
    ):
        plan.fail("not converted: no Account matched and match_policy.account."
                  "create_if_no_match is false")  # fmt: skip


def settle_account(plan: Plan, contact: Mapping[str, Any] | None, policy: Policy) -> None:
    """Salesforce converts into a contact only together with that contact's account."""
    if contact is None:  # deleted since the index saw it
        plan.act("policy", f"matched Contact {plan.contact_id} no longer exists; a new contact "
                 "is created", object="Contact", sf_id=plan.contact_id)  # fmt: skip
        plan.contact_id = None
        if policy.contact is not None and not policy.contact.create_if_no_match:
            plan.fail("not converted: the matched Contact no longer exists and match_policy."
                      "contact.create_if_no_match is false")  # fmt: skip
        return
    own = contact.get("AccountId")
    if own and plan.account_id and own != plan.account_id:
        plan.act("policy", f"Account {plan.account_id} not used: the matched contact belongs to "
                 f"Account {own}, and Salesforce converts into a contact only with its own "
                 "account", object="Account", sf_id=own)  # fmt: skip
    if own:
        if plan.account_id != own:
            plan.account_id = own
            if not plan.account_match or plan.account_match.id != own:
                plan.act("account_from_contact", f"converting into Account {own}, the "
                         f"matched contact's account", object="Account", sf_id=own)  # fmt: skip
    elif (
        plan.account_id is None
        and policy.account is not None
        and (not policy.account.create_if_no_match)
    ):
        plan.fail("not converted: the matched contact has no account, no Account matched and "
                  "match_policy.account.create_if_no_match is false")  # fmt: skip
