"""The documented contract of `POST /v1/triggers/salesforce` and the polling status."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from bridge.salesforce.errors import InvalidId
from bridge.salesforce.ids import normalize

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
