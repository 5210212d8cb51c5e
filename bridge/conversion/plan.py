"""What a conversion is asked to do (Policy), what it decides per lead (Plan) and what it hands
back (Outcome). Plain data: no I/O here."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from bridge.matching.engine import Match
from bridge.matching.rules import RuleSet
from bridge.routing.outcomes import Pick
from bridge.salesforce.convert import LeadConvert, LeadConvertResult

CONVERTED, FAILED, DUPLICATE = "converted", "failed", "duplicate"


class ConversionError(Exception):
    """Base of the errors that stop a whole conversion request."""


class LeadNotFound(ConversionError):
    def __init__(self, lead_id: str) -> None:
        super().__init__(f"lead {lead_id} does not exist in Salesforce")
        self.lead_id = lead_id


class ConversionUnavailable(ConversionError):
    """No Salesforce org (or not this tenant's), or no match index for the pre-check."""


CONVERT_CREDITS = 3
MATCHING_CREDITS = 2  # also what a lead left unconverted pays when its pre-check ran
ROUND_ROBIN_CREDITS = 1


@dataclass(frozen=True)
class Side:
    """Matching for one object: the rules, and whether no match may create a record."""

    rules: RuleSet
    create_if_no_match: bool = True


@dataclass(frozen=True)
class Policy:
    contact: Side | None = None
    account: Side | None = None
    merge_contact: bool = True  # on_contact_match == merge_lead_into_contact
    attach_account: bool = True  # on_account_match == attach_to_account
    pool: str | None = None
    exclude_inactive: bool = True
    reason: str | None = None
    include_diff: bool = True
    create_opportunity: bool = False

    @property
    def matching(self) -> bool:
        """A pre-check runs: at least one side (a match policy with both sides null: none)."""
        return self.contact is not None or self.account is not None

    @property
    def cost(self) -> int:
        """Credits per lead: 3, +2 for duplicate checking (only when some is done), +1 for
        round robin."""
        matching = MATCHING_CREDITS if self.matching else 0
        return CONVERT_CREDITS + matching + (ROUND_ROBIN_CREDITS if self.pool else 0)


@dataclass
class Plan:
    """One lead's way through the conversion."""

    lead: dict[str, Any]
    actions: list[dict[str, Any]] = field(default_factory=list)
    contact_match: Match | None = None
    account_match: Match | None = None
    contact_id: str | None = None
    account_id: str | None = None
    created_account: bool = False  # the bridge created the account (a contact without one)
    pick: Pick | None = None
    refused_picks: list[Pick] = field(default_factory=list)  # owners Salesforce refused
    failure: str | None = None
    failure_kind: str = "skip"  # route-log action of a failure: skip (policy) or error
    result: LeadConvertResult | None = None
    converted_by_other: dict[str, Any] | None = None  # the lead re-read after losing a race

    @property
    def lead_id(self) -> str:
        return str(self.lead["Id"])

    @property
    def refused(self) -> set[str]:
        """The users Salesforce refused as this lead's owner: not to be picked again."""
        return {p.assigned_to for p in self.refused_picks}

    @property
    def failed(self) -> bool:
        return self.failure is not None

    def act(self, type_: str, message: str, **extra: Any) -> None:
        self.actions.append(
            {"type": type_, "message": message, **{k: v for k, v in extra.items() if v is not None}}
        )

    def fail(self, reason: str, kind: str = "skip") -> None:
        self.failure, self.failure_kind = reason, kind
        self.act("not_converted", reason, object="Lead", sf_id=self.lead_id)

    def convert(self, create_opportunity: bool) -> LeadConvert:
        return LeadConvert(
            lead_id=self.lead_id,
            account_id=self.account_id,
            contact_id=self.contact_id,
            owner_id=self.pick.assigned_to if self.pick else None,
            do_not_create_opportunity=not create_opportunity,
        )


@dataclass
class Outcome:
    lead_id: str
    status: str
    account_id: str | None = None
    contact_id: str | None = None
    owner_id: str | None = None
    actions: list[dict[str, Any]] = field(default_factory=list)
    matched: bool = False  # the duplicate pre-check ran (its credits were earned)

    @property
    def success(self) -> bool:
        return self.status != FAILED
