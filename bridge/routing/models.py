"""The routing contract: POST /v1/routing/assign and the pool definitions (API and seed file)."""

from __future__ import annotations

import re
import zoneinfo
from datetime import datetime
from decimal import Decimal
from typing import Annotated, Literal

from pydantic import (
    AwareDatetime,
    BaseModel,
    ConfigDict,
    Field,
    PlainSerializer,
    StringConstraints,
    field_validator,
    model_validator,
)

from bridge.salesforce import ids as sf_ids
from bridge.salesforce.errors import InvalidId

ObjectName = Literal["lead", "contact", "opportunity", "account"]
SOBJECTS: dict[str, str] = {
    "lead": "Lead",
    "contact": "Contact",
    "opportunity": "Opportunity",
    "account": "Account",
}
DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
MAX_MEMBERS = 500

# Exact in hundredths inside, a plain JSON number outside.
Weight = Annotated[Decimal, PlainSerializer(float, return_type=float, when_used="json")]
PoolName = Annotated[
    str,
    StringConstraints(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.\-]{0,119}$"),
    Field(description="Pool identifier: letters, digits, `_`, `.`, `-` (up to 120)."),
]
_RANGE = re.compile(r"^([01]\d|2[0-3]):([0-5]\d)-([01]\d|2[0-4]):([0-5]\d)$")


def user_id(value: str) -> str:
    """A Salesforce User id (prefix 005), returned in its 18-character form."""
    try:
        return sf_ids.normalize(value, "User")
    except InvalidId as exc:
        raise ValueError(str(exc)) from None


def time_zone(value: str) -> str:
    try:
        zoneinfo.ZoneInfo(value)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        raise ValueError(f"unknown IANA time zone {value!r}") from None
    return value


class ResetRules(BaseModel):
    model_config = ConfigDict(extra="forbid")

    reason: str = Field(
        min_length=1, max_length=200, description="Why the rotation is reset (e.g. 'bad_fit')."
    )
    place_user_at_top: str | None = Field(
        None,
        description="A member's User id: this assignment goes to them, outside the rotation "
        "(the other members' turns are unchanged). Without it the rotation's counters are "
        "reset before the pick.",
    )

    @field_validator("place_user_at_top")
    @classmethod
    def _user(cls, value: str | None) -> str | None:
        return user_id(value) if value is not None else None


class AssignRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    object: ObjectName = Field(description="Salesforce object type to assign.")
    sf_id: str = Field(description="Salesforce id of the record (15 or 18 characters).")
    pool: PoolName
    exclude_inactive: bool = Field(
        True, description="Skip members Salesforce reports inactive (recommended)."
    )
    reset_rules: ResetRules | None = None

    @model_validator(mode="after")
    def _id_matches_object(self) -> AssignRequest:
        try:
            self.sf_id = sf_ids.normalize(self.sf_id, SOBJECTS[self.object])
        except InvalidId as exc:
            raise ValueError(f"sf_id: {exc}") from None
        return self

    @property
    def sobject(self) -> str:
        return SOBJECTS[self.object]


class AssignResponse(BaseModel):
    success: bool
    assigned_to: str = Field(description="User id the record was assigned to.")
    sequence: int = Field(description="The assignment's sequence number in the pool.")
    pool_size: int = Field(description="Members available for this pick.")
    timestamp: datetime = Field(description="When the assignment was made (UTC).")
    credits_consumed: int
    credits_remaining: int
    processing_time_ms: float
    cached: bool = Field(description="True when an earlier assignment was returned.")


class Caps(BaseModel):
    model_config = ConfigDict(extra="forbid")

    hour: int | None = Field(None, ge=1, description="Most assignments per clock hour.")
    day: int | None = Field(None, ge=1, description="Most assignments per day.")
    month: int | None = Field(None, ge=1, description="Most assignments per calendar month.")


class OutOfOffice(BaseModel):
    model_config = ConfigDict(extra="forbid")

    start: AwareDatetime
    end: AwareDatetime
    reason: str | None = Field(None, max_length=200)

    @model_validator(mode="after")
    def _ordered(self) -> OutOfOffice:
        if self.end <= self.start:
            raise ValueError("out_of_office end must be after start")
        return self


WorkingHours = dict[
    Literal["mon", "tue", "wed", "thu", "fri", "sat", "sun"],
    list[str],
]


def _check_working_hours(value: WorkingHours | None) -> WorkingHours | None:
    if value is None:
        return None
    for day, ranges in value.items():
        for text in ranges:
            match = _RANGE.match(text)
            if not match:
                raise ValueError(f"{day}: {text!r} is not 'HH:MM-HH:MM'")
            if match.group(3) == "24" and match.group(4) != "00":
                raise ValueError(f"{day}: {text!r} ends after 24:00")
            if text[:5] == text[6:]:
                raise ValueError(f"{day}: {text!r} is empty")
    return value


class MemberSpec(BaseModel):
    model_config = ConfigDict(extra="forbid")

    user_id: str = Field(description="Salesforce User id (005...).")
    weight: Weight = Field(
        Decimal(1),
        gt=0,
        le=1000,
        decimal_places=2,
        description="Relative share: 2 gets twice as many as 1, 0.5 half (two decimals).",
    )
    caps: Caps = Field(default_factory=Caps)
    time_zone: str | None = Field(None, description="IANA zone; default the pool's.")
    working_hours: WorkingHours | None = Field(
        None,
        description="Local working hours per weekday, e.g. {'mon': ['09:00-17:00']}; days not "
        "listed are off; a range ending before it starts runs past midnight. None: always.",
    )
    out_of_office: list[OutOfOffice] = Field(default_factory=list, max_length=200)

    @field_validator("user_id")
    @classmethod
    def _user(cls, value: str) -> str:
        return user_id(value)

    @field_validator("time_zone")
    @classmethod
    def _zone(cls, value: str | None) -> str | None:
        return time_zone(value) if value is not None else None

    @field_validator("working_hours")
    @classmethod
    def _hours(cls, value: WorkingHours | None) -> WorkingHours | None:
        return _check_working_hours(value)


class PoolDefinition(BaseModel):
    """A pool without its name (the body of PUT /v1/routing/pools/{name})."""

    model_config = ConfigDict(extra="forbid")

    description: str | None = Field(None, max_length=2000)
    paused: bool = Field(False, description="A paused pool assigns nobody (409).")
    time_zone: str = Field("UTC", description="IANA zone for members without their own.")
    caps: Caps = Field(default_factory=Caps, description="Caps over the whole pool.")
    members: list[MemberSpec] = Field(default_factory=list, max_length=MAX_MEMBERS)

    @field_validator("time_zone")
    @classmethod
    def _zone(cls, value: str) -> str:
        return time_zone(value)

    @field_validator("members")
    @classmethod
    def _unique(cls, members: list[MemberSpec]) -> list[MemberSpec]:
        seen: set[str] = set()
        for member in members:
            if member.user_id in seen:
                raise ValueError(f"user {member.user_id} is listed twice")
            seen.add(member.user_id)
        return members


class PoolSpec(PoolDefinition):
    """A pool with its name (POST /v1/routing/pools and the seed file)."""

    name: PoolName


class PoolResponse(PoolSpec):
    sequence: int = Field(description="Sequence number of the pool's latest assignment.")
    created_at: datetime
    updated_at: datetime


class PoolList(BaseModel):
    pools: list[PoolResponse]


class PoolPath(BaseModel):
    name: PoolName
