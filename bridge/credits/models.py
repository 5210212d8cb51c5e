"""The Credits API contract (GET /v1/credits/usage, GET /v1/credits/remaining)."""

from __future__ import annotations

import re
from datetime import UTC, datetime, time
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

_DATE_ONLY = re.compile(r"^\d{4}-\d{2}-\d{2}$")


class CreditUsageQuery(BaseModel):
    model_config = ConfigDict(extra="ignore")

    start_date: datetime = Field(
        description="Start of the period (ISO 8601; a bare date means its first instant, "
        "a time without offset means UTC).",
        examples=["2024-01-01T00:00:00Z"],
    )
    end_date: datetime = Field(
        description="End of the period, inclusive (a bare date means its last instant).",
        examples=["2024-12-31T23:59:59Z"],
    )
    workflow_id: str | None = Field(None, max_length=120, description="Only this workflow.")
    workflow_run_id: str | None = Field(None, max_length=120, description="Only this workflow run.")
    custom_key: str | None = Field(None, max_length=120, description="Only this custom key.")
    custom_value: str | None = Field(None, max_length=255, description="Only this custom value.")

    @field_validator("start_date", "end_date", mode="before")
    @classmethod
    def _whole_days(cls, value: Any, info: Any) -> Any:
        # A caller asking for end_date=2024-12-31 means "through the 31st", not "until it starts".
        if isinstance(value, str) and _DATE_ONLY.match(value):
            day = datetime.fromisoformat(value).date()
            moment = time.min if info.field_name == "start_date" else time.max
            return datetime.combine(day, moment, tzinfo=UTC)
        return value

    @field_validator("start_date", "end_date")
    @classmethod
    def _utc(cls, value: datetime) -> datetime:
        try:
            return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
        except OverflowError:  # e.g. 9999-12-31T23:00-05:00: bad input, not a server error
            raise ValueError("date out of range") from None

    @field_validator("workflow_id", "workflow_run_id", "custom_key", "custom_value")
    @classmethod
    def _no_nul(cls, value: str | None) -> str | None:
        # PostgreSQL text cannot hold NUL; refuse it here rather than fail in SQL.
        if value is not None and "\x00" in value:
            raise ValueError("must not contain NUL characters")
        return value

    @model_validator(mode="after")
    def _ordered(self) -> CreditUsageQuery:
        if self.end_date < self.start_date:
            raise ValueError("end_date must not be before start_date")
        return self


class CreditUsageResponse(BaseModel):
    success: bool = Field(True, description="Whether the request succeeded.")
    tenant_id: int = Field(description="The tenant of the authenticated key.")
    start_date: datetime = Field(description="Echo of the start date.")
    end_date: datetime = Field(description="Echo of the end date.")
    credits_used: int = Field(
        description="Credits used in the period (debits net of refunds); credits are integers."
    )


class RemainingCreditsResponse(BaseModel):
    success: bool = Field(True, description="Whether the request succeeded.")
    tenant_id: int = Field(description="The tenant of the authenticated key.")
    remaining_credits: int = Field(description="Credits left to spend.")
    total_credits: int = Field(description="Credits granted to the tenant in total.")
