"""The conversion contract: POST /v1/salesforce/convert request and response."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from bridge.matching.rules import RuleError, parse_rules
from bridge.routing.models import PoolName
from bridge.salesforce import ids as sf_ids
from bridge.salesforce.errors import InvalidId

# Rule options a side may carry besides `create_if_no_match` (the matcher's own vocabulary).
RULE_KEYS = ("by", "groups", "any", "threshold", "tiebreakers")


class SidePolicy(BaseModel):
    """Matching rules for one object (contact or account) and what to do without a match."""

    model_config = ConfigDict(extra="forbid")

    by: Any = Field(
        None,
        description="Field rules, any of which may match (`email:eq`, `name_company:fuzzy0.8`, "
        '`domain:eq`, `name:fuzzy0.85`...), or the text form `"(domain:eq & name:fuzzy0.8) | '
        "phone:eq threshold=0.9\"`. Omitted: the matcher's default rules for the object.",
        examples=[["email:eq", "name_company:fuzzy0.8"]],
    )
    groups: list[Any] | None = Field(None, description="Grouped rules, as in /v1/match.")
    any: bool | None = Field(None, description="Grouped rules: any group (true) or every group.")
    threshold: float | None = Field(None, ge=0, le=1, description="Minimum confidence.")
    tiebreakers: list[str] | None = Field(None, description="As in /v1/match.")
    create_if_no_match: bool = Field(
        True,
        description="No match: create a new record (true) or leave the lead unconverted "
        "(false; status `failed`).",
    )

    def rule_options(self) -> Any:
        """The matcher's rules value (parse_rules), or None for the object's default rules."""
        out = {k: v for k, v in self.model_dump().items() if k in RULE_KEYS and v is not None}
        if set(out) <= {"by"}:
            return out.get("by")
        return out

    @model_validator(mode="after")
    def _rules(self) -> SidePolicy:
        try:
            parse_rules(self.rule_options(), default=parse_rules("name:eq"))
        except RuleError as exc:
            raise ValueError(str(exc)) from None
        return self


class MatchPolicy(BaseModel):
    model_config = ConfigDict(extra="forbid")

    contact: SidePolicy | None = Field(
        default_factory=SidePolicy, description="Contact pre-check (null: no contact matching)."
    )
    account: SidePolicy | None = Field(
        default_factory=SidePolicy, description="Account pre-check (null: no account matching)."
    )


class MergePolicy(BaseModel):
    model_config = ConfigDict(extra="forbid")

    on_contact_match: Literal["merge_lead_into_contact", "create_separate_contact"] = Field(
        "merge_lead_into_contact",
        description="merge_lead_into_contact: convert into the matched contact (Salesforce "
        "fills its empty fields, moves the lead's activities); create_separate_contact: a new "
        "contact even so.",
    )
    on_account_match: Literal["attach_to_account", "create_separate_account"] = Field(
        "attach_to_account",
        description="attach_to_account: convert into the matched account; "
        "create_separate_account: a new account even so.",
    )


class LogsOptions(BaseModel):
    model_config = ConfigDict(extra="forbid")

    include_diff: bool = Field(
        True, description="Each merge/convert entry in `actions` carries its field diff."
    )
    reason: str | None = Field(
        None, max_length=500, description="Free text recorded in the route logs."
    )


class ConvertRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    lead_sf_id: str = Field(description="The Lead to convert (15 or 18 characters, 00Q...).")
    match_policy: MatchPolicy | None = Field(
        None,
        description="Duplicate pre-check of contacts and accounts (+2 credits). Omitted: no "
        "pre-check, Salesforce creates a new account and contact.",
        examples=[{"contact": {"by": ["email:eq", "name_company:fuzzy0.8"],
                               "create_if_no_match": True},
                   "account": {"by": ["domain:eq", "name:fuzzy0.85"],
                               "create_if_no_match": True}}],
    )  # fmt: skip
    merge_policy: MergePolicy = Field(default_factory=MergePolicy)
    set_owner_round_robin_pool: PoolName | None = Field(
        None, description="Round-robin pool giving the converted records' owner (+1 credit)."
    )
    logs: LogsOptions = Field(default_factory=LogsOptions)

    @field_validator("lead_sf_id")
    @classmethod
    def _lead_id(cls, value: str) -> str:
        try:
            return sf_ids.normalize(value.strip(), "Lead")
        except InvalidId as exc:
            raise ValueError(str(exc)) from None


class Action(BaseModel):
    """One step the conversion took, in order."""

    type: str = Field(description="match_contact, match_account, no_match, policy, "
                      "assign_owner, create_account, convert, merge, duplicate, not_converted, "
                      "error")  # fmt: skip
    message: str = Field(description="What happened, in plain language.")
    object: str | None = None
    sf_id: str | None = None
    score: float | None = None
    confidence: float | None = None
    rules_fired: list[str] | None = None
    pool: str | None = None
    sequence: int | None = None
    diff: dict[str, Any] | None = None


class ConvertResponse(BaseModel):
    success: bool
    status: Literal["converted", "failed", "duplicate"]
    account_id: str | None
    contact_id: str | None
    owner_id: str | None
    actions: list[Action]
    credits_consumed: int
    credits_remaining: int
    processing_time_ms: float
    cached: bool
