"""The route-log API contract: export and statistics queries, entries, retention."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, time, timedelta
from typing import Annotated, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from bridge.logs.service import ACTIONS

MAX_LIMIT = 10_000
DEFAULT_LIMIT = 1_000
MIN_RETENTION_DAYS = 1
DEFAULT_RETENTION_DAYS = 365
MAX_RETENTION_DAYS = 1095

# The documented actions first, then the bridge's own (match, skip, error).
Action = Literal["assign", "convert", "merge", "enrich", "match", "skip", "error"]
assert set(Action.__args__) == ACTIONS  # type: ignore[attr-defined]

ObjectName = Annotated[str, Field(pattern=r"^[A-Za-z][A-Za-z0-9_]{0,39}$")]
_BARE_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
PoolName = Annotated[str, Field(min_length=1, max_length=120)]


def _start_of(value: datetime | date) -> datetime:
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=UTC)
    return datetime.combine(value, time.min, tzinfo=UTC)


def _end_of(value: datetime | date) -> datetime:
    """An exclusive upper bound: a bare date means the whole of that (UTC) day."""
    if isinstance(value, datetime):
        instant = value if value.tzinfo else value.replace(tzinfo=UTC)
        return instant + timedelta(microseconds=1)
    return datetime.combine(value + timedelta(days=1), time.min, tzinfo=UTC)


class PeriodQuery(BaseModel):
    """`from`/`to` as ISO dates or datetimes (naive means UTC); both ends inclusive."""

    model_config = ConfigDict(populate_by_name=True, extra="forbid")

    from_: datetime | date = Field(alias="from", description="Start (ISO date or datetime).")
    to: datetime | date = Field(description="End, inclusive (a date means the whole day, UTC).")
    pool: PoolName | None = Field(None, description="Only this round-robin pool.")
    object: ObjectName | None = Field(
        None, description="Only this Salesforce object (Lead, Contact, Account, Opportunity)."
    )

    @field_validator("from_", "to", mode="before")
    @classmethod
    def _date_or_datetime(cls, value: object) -> object:
        # A bare `YYYY-MM-DD` is a whole day; anything longer must be a full datetime.
        if isinstance(value, str):
            value = value.strip()
            if _BARE_DATE.match(value):
                return date.fromisoformat(value)
        return value

    @model_validator(mode="after")
    def _ordered(self) -> PeriodQuery:
        if self.start >= self.end:
            raise ValueError("'from' must not be after 'to'")
        return self

    @property
    def start(self) -> datetime:
        return _start_of(self.from_)

    @property
    def end(self) -> datetime:
        """Exclusive."""
        return _end_of(self.to)


class ExportQuery(PeriodQuery):
    action: Action | None = Field(
        None,
        description="Only this action: the documented assign, convert, merge, enrich, or the "
        "bridge's match, skip, error.",
    )
    format: Literal["json", "csv"] = Field("json", description="json (default) or csv.")
    include_diff: bool = Field(True, description="Include the field diff of each entry.")
    limit: int = Field(DEFAULT_LIMIT, ge=1, le=MAX_LIMIT, description="Rows per response.")
    cursor: str | None = Field(
        None,
        max_length=512,
        description="`next_cursor` of the previous page (same filters): continues after it.",
    )


class RouteLogEntry(BaseModel):
    timestamp: datetime
    object: str
    object_id: str
    action: str
    pool: str | None
    assigned_to: str | None
    prev_owner: str | None
    sequence: int | None
    reason: str | None
    request_id: str | None
    idempotency_key: str | None
    diff: dict[str, object] | None = Field(description="Null when include_diff=false.")


class RouteLogExport(BaseModel):
    """The JSON export (streamed). CSV carries the same rows; its cursor is a header."""

    success: bool = True
    entries: list[RouteLogEntry]
    count: int = Field(description="Entries in this response.")
    next_cursor: str | None = Field(
        description="Pass as `cursor` (same filters) for the rows after these; null at the end."
    )


class StatsQuery(PeriodQuery):
    action: Action | None = None


class Rate(BaseModel):
    numerator: int
    denominator: int
    rate: float | None = Field(description="numerator / denominator; null when nothing to divide.")


class MemberCount(BaseModel):
    assigned_to: str
    count: int
    share: float = Field(description="Share of the pool's assignments in the period.")


class PoolDistribution(BaseModel):
    pool: str
    total: int
    members: list[MemberCount]


class DayStats(BaseModel):
    date: date
    total: int
    by_action: dict[str, int]
    by_object: dict[str, int]
    by_pool: dict[str, int] = Field(description="Rows with a pool, per pool.")
    by_user: dict[str, int] = Field(description="Assignments per assigned user id.")


class LogStatsResponse(BaseModel):
    success: bool = True
    # Serialised under the documented parameter names.
    model_config = ConfigDict(populate_by_name=True)
    from_: datetime = Field(alias="from", serialization_alias="from")
    to: datetime = Field(description="Exclusive end of the period counted.")
    timezone: str = Field(description="Days are calendar days in this (the tenant's) zone.")
    total: int
    by_action: dict[str, int]
    by_object: dict[str, int]
    by_pool: dict[str, int]
    by_user: dict[str, int] = Field(description="Assignments per assigned user id.")
    assignments: list[PoolDistribution]
    conversion_rate: Rate = Field(
        description="Distinct leads converted / distinct leads with any action in the period."
    )
    match_rate: Rate = Field(
        description="Distinct records with a match / distinct records with any action."
    )
    per_day: list[DayStats]


def valid_timezone(name: str) -> str:
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise ValueError(f"unknown time zone {name!r}") from exc
    return name


class RetentionUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    retention_days: int = Field(
        ge=MIN_RETENTION_DAYS, le=MAX_RETENTION_DAYS, description="Days route logs are kept."
    )
    timezone: str | None = Field(
        None,
        max_length=64,
        description="IANA zone whose 2 AM starts the daily cleanup (e.g. Europe/Berlin).",
    )

    @field_validator("timezone")
    @classmethod
    def _zone(cls, value: str | None) -> str | None:
        return valid_timezone(value) if value is not None else None


class RetentionResponse(BaseModel):
    success: bool = True
    retention_days: int
    timezone: str
    cleanup_hour: int = Field(description="Local hour of the daily cleanup.")
    last_cleanup_at: datetime | None
    last_cleanup_rows: int | None
    last_cleanup_cutoff: datetime | None
