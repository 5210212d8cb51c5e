"""The Match API contract (POST /v1/match)."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, PrivateAttr, field_validator

from bridge.matching.rules import RuleError, RuleSet, parse_rules

Scalar = str | int | float | bool | None


class MatchRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    object: Literal["account", "contact", "lead"] = Field(
        description="Salesforce object to match against.", examples=["account"]
    )
    candidates: list[dict[str, Scalar]] = Field(
        min_length=1,
        max_length=100,
        description="Records to match (1-100). Keys are field names, canonical (`name`, "
        "`first_name`, `last_name`, `company`, `email`, `phone`, `website`, `domain`, `street`, "
        "`street_number`, `address_2`, `city`, `postal_code`, `state`, `country`, `birthdate`, "
        "`national_id`; FEBRL's `given_name`, `surname`, `suburb`, `soc_sec_id`...) or "
        "Salesforce (`FirstName`, `Company`, `BillingCity`...). An `id` (a Salesforce id) "
        "excludes that record from its own matches.",
        examples=[[{"company": "Acme Inc", "email": "jo@acme.com", "phone": "+1 415 555 0100"}]],
    )
    rules: Any = Field(
        None,
        description="Simple: a list of field rules (`email:eq`, `name:exact`, `company:contains`, "
        "`name:fuzzy0.85`), any of which may match. Grouped: "
        '`{"groups": [{"all": ["domain:eq", "name:fuzzy0.8"]}, {"all": ["email:eq"]}], '
        '"any": true, "threshold": 0.8}`. AI: `{"mode": "ai", "threshold": 0.7, '
        '"instructions": "..."}`. Also `tiebreakers` (default most_contacts, most_leads, '
        "most_opportunities, oldest) and `max_matches` (default 5). The text form "
        '`"(domain:eq & name:fuzzy0.8) | email:eq threshold=0.8"` is accepted too. '
        "Omitted: the default rules of the object with threshold 0.9.",
        examples=[{"by": ["domain:eq", "name:fuzzy0.85"]}],
    )
    context: dict[str, Any] | None = Field(
        None, description="Optional context (e.g. `org_id`, `instance_url`); `org_id`, when "
        "given, must belong to the caller."
    )  # fmt: skip
    max_credits: int | None = Field(
        None, ge=0, description="Spend at most this many credits: candidates beyond what it "
        "pays for are returned unprocessed (`skipped`)."
    )  # fmt: skip

    _ruleset: RuleSet | None = PrivateAttr(None)

    @field_validator("object", mode="before")
    @classmethod
    def _lower(cls, value: Any) -> Any:
        return value.lower() if isinstance(value, str) else value

    @field_validator("rules")
    @classmethod
    def _rules(cls, value: Any) -> Any:
        if value is None:
            return None
        try:
            parse_rules(value, default=parse_rules("name:eq"))
        except RuleError as exc:
            raise ValueError(str(exc)) from None
        return value

    @field_validator("candidates")
    @classmethod
    def _candidates(cls, value: list[dict[str, Scalar]]) -> list[dict[str, Scalar]]:
        for i, candidate in enumerate(value):
            if not any(v not in (None, "") for k, v in candidate.items() if k.lower() != "id"):
                raise ValueError(f"candidate {i} has no field values")
            if len(candidate) > 100 or any(len(str(v)) > 1000 for v in candidate.values()):
                raise ValueError(f"candidate {i} is too large (100 fields, 1,000 characters each)")
        return value


class MatchItem(BaseModel):
    sf_id: str = Field(description="Salesforce id of the matched record.")
    object: str
    score: float = Field(description="Mean similarity (0-1) of the fields whose rules fired.")
    confidence: float = Field(description="Overall match probability (0-1) from every field.")
    rules_fired: list[str]
    explanation: str = Field(description="Why, in plain language.")


class CandidateResult(BaseModel):
    index: int = Field(description="Position of the candidate in the request.")
    candidate_id: str | None = None
    mode: Literal["simple", "grouped", "ai"]
    matched: bool
    matches: list[MatchItem] = Field(description="Best first (ties broken deterministically).")
    skipped: bool = Field(False, description="Not processed: max_credits reached.")
    credits_consumed: int


class MatchResponse(BaseModel):
    success: bool
    results: list[CandidateResult]
    credits_consumed: int
    credits_remaining: int
    processing_time_ms: float
    cached: bool = Field(description="Always false: every request is matched on the live index.")
