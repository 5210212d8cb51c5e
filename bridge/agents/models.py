"""The documented contract of the batch agents (`/v1/agents/phone`, `email`, `phone-email`,
`deep-research`) and of `GET /v1/agents/runs/{run_id}/status`.

People are given as Salesforce Lead/Contact ids, companies as Account ids, or as inline
`records` (objects with the CSV's input columns: id, first_name, last_name, company_name,
company_url, linkedin, email, ...). Exactly one of `ids` and `records`, 1-1,000 items.
The status answer carries the documented `run_id` and `status` plus counts and timestamps.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

MAX_RECORDS = 1_000
RunStatus = Literal["queued", "running", "completed", "failed"]


class _Batch(BaseModel):
    model_config = ConfigDict(extra="ignore")

    ids: list[str] | None = Field(
        None,
        min_length=1,
        max_length=MAX_RECORDS,
        description="Salesforce ids to process (Lead/Contact for people, Account for companies)",
    )
    records: list[dict[str, Any]] | None = Field(
        None, min_length=1, max_length=MAX_RECORDS, description="Inline record objects to process"
    )
    max_credits: int = Field(gt=0, description="Maximum credits this request may consume")

    @model_validator(mode="after")
    def _one_source(self) -> _Batch:
        if (self.ids is None) == (self.records is None):
            raise ValueError("give exactly one of ids and records")
        return self

    def items(self) -> list[tuple[str, dict[str, Any] | None]]:
        """(ref, inline record or None) per item, in order."""
        if self.ids is not None:
            return [(str(i).strip(), None) for i in self.ids]
        assert self.records is not None
        return [(str(r.get("id") or "").strip(), r) for r in self.records]


class PersonBatchRequest(_Batch):
    entity_type: Literal["person"] = Field(
        "person", description="Type of entity being processed (must be 'person')"
    )


class DeepResearchBatchRequest(_Batch):
    entity_type: Literal["person", "company"] = Field(description="person or company")
    query_hint: str = Field("", max_length=2_000, description="Query hint for research context")
    effort: Literal["low", "medium", "high"] = Field("medium", description="Research effort")
    agent_type: Literal["general", "funding", "legal"] = Field(
        "general", description="Specialised research agent"
    )


class BatchAccepted(BaseModel):
    run_id: str = Field(description="Unique identifier for the batch run")
    result_path: str = Field(description="Where the results CSV will be stored")
    credits_csv_path: str = Field(description="Where the credit usage report will be stored")


class RunStatusResponse(BaseModel):
    run_id: str
    status: RunStatus
    agent: str
    entity_type: str
    total: int = Field(description="Records submitted")
    processed: int = Field(description="Records worked on (found or not)")
    found: int = Field(description="Records the agent found something for")
    skipped: int = Field(description="Records skipped: missing required fields, not found, bad id")
    errors: int = Field(description="Records whose lookup failed (not charged)")
    not_processed: int = Field(description="Records left when the run stopped at max_credits")
    credits_consumed: int
    max_credits: int
    stopped_reason: str | None = Field(None, description="max_credits or insufficient_credits")
    error: str | None = Field(None, description="Why a failed run failed")
    result_path: str
    credits_csv_path: str
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None
