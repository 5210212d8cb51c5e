"""The documented contract of `POST /v1/triggers/salesforce` and the polling status."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from bridge.salesforce.errors import InvalidId
from bridge.salesforce.ids import normalize
from bridge.triggers.tables import PollState

TriggerObject = Literal["Lead", "Contact", "Account", "Opportunity"]
TriggerEvent = Literal["after_insert", "after_update", "after_undelete"]

# Documented credit cost per record, by object.
CREDITS_PER_RECORD: dict[str, int] = {"Lead": 2, "Contact": 1, "Account": 3, "Opportunity": 1}


class TriggerRequest(BaseModel):
    model_config = ConfigDict(extra="ignore")

    object: TriggerObject = Field(description="Salesforce object type that triggered the event.")
    ids: list[str] = Field(min_length=1, max_length=100, description="1-100 changed record ids.")
    event: TriggerEvent = Field(description="Salesforce trigger event type.")
    org_id: str = Field(description="Salesforce organization id (00D...).")

    @field_validator("org_id")
    @classmethod
    def _org_id(cls, value: str) -> str:
        try:
            full = normalize(value)
        except InvalidId as exc:
            raise ValueError(str(exc)) from None
        if not full.startswith("00D"):
            raise ValueError("org_id must be an organization id (prefix 00D)")
        return full

    @model_validator(mode="after")
    def _ids_match_object(self) -> TriggerRequest:
        seen: dict[str, None] = {}
        errors = []
        for index, record_id in enumerate(self.ids):
            try:
                seen.setdefault(normalize(record_id, self.object), None)
            except InvalidId as exc:
                errors.append(f"ids[{index}]: {exc}")
        if errors:
            raise ValueError("; ".join(errors[:5]))
        self.ids = list(seen)
        return self

    @property
    def credits(self) -> int:
        return CREDITS_PER_RECORD[self.object] * len(self.ids)


class TriggerResponse(BaseModel):
    success: bool
    processed_count: int = Field(description="Record ids accepted for processing.")
    enrichment_jobs: list[str] = Field(description="Job ids created (one per accepted request).")
    workflow_status: Literal["started", "queued", "failed"]
    credits_consumed: int
    credits_remaining: int | None
    processing_time_ms: float
    cached: bool = Field(description="True when this exact callout was already accepted.")


class PollingObjectStatus(BaseModel):
    object: str
    last_poll_time: datetime | None
    next_poll_time: datetime | None
    records_processed: int = Field(description="Ids accepted by the last poll.")
    records_total: int = Field(description="Ids accepted by every poll so far.")
    watermark_value: str | None = Field(description="`SystemModstamp|Id` of the watermark.")
    lag_seconds: float | None = Field(
        description="Polling lag: seconds since the poll last caught up with Salesforce. After "
        "a poll that read every change, since it started (however old the newest record is); "
        "after a poll that stopped early (error, budget), since the watermark's SystemModstamp, "
        "an upper bound. Null before the first poll."
    )
    skipped_loop_guard: int = Field(description="Bridge's own write-backs skipped last poll.")
    skipped_already_processed: int
    deleted_seen: int
    queries: int
    last_error: str | None

    @classmethod
    def from_state(cls, state: PollState) -> PollingObjectStatus:
        watermark = None
        if state.watermark_ts is not None:
            stamp = state.watermark_ts.isoformat(timespec="milliseconds").replace("+00:00", "Z")
            watermark = f"{stamp}|{state.watermark_id or ''}"
        lag = polling_lag(state, datetime.now(UTC))
        return cls(
            object=state.object,
            last_poll_time=state.last_poll_time,
            next_poll_time=state.next_poll_time,
            records_processed=state.records_processed or 0,
            records_total=state.records_total or 0,
            watermark_value=watermark,
            lag_seconds=lag,
            skipped_loop_guard=state.skipped_loop_guard or 0,
            skipped_already_processed=state.skipped_already_processed or 0,
            deleted_seen=state.deleted_seen or 0,
            queries=state.queries or 0,
            last_error=state.last_error,
        )


class PollingStatusResponse(BaseModel):
    success: bool = True
    last_poll_time: datetime | None
    records_processed: int
    watermark_value: str | None
    next_poll_time: datetime | None
    objects: list[PollingObjectStatus]

    @classmethod
    def summarise(cls, objects: list[PollingObjectStatus]) -> PollingStatusResponse:
        polled = [o for o in objects if o.last_poll_time is not None]
        latest = max(polled, key=lambda o: o.last_poll_time, default=None)  # type: ignore[arg-type, return-value]
        upcoming = [o.next_poll_time for o in objects if o.next_poll_time is not None]
        return cls(
            last_poll_time=latest.last_poll_time if latest else None,
            records_processed=sum(o.records_processed for o in objects),
            watermark_value=latest.watermark_value if latest else None,
            next_poll_time=min(upcoming) if upcoming else None,
            objects=objects,
        )


def polling_lag(state: PollState, now: datetime) -> float | None:
    """Seconds since the poll last caught up with Salesforce (status, metrics, dashboard).

    A drained poll saw everything changed before it started; a stopped one only up to the
    watermark (the watermark alone is record age: it ages while nothing changes)."""
    caught_up = state.last_poll_time if state.last_error is None else state.watermark_ts
    if caught_up is None:
        return None
    return round(max(0.0, (now - caught_up).total_seconds()), 3)
