"""The documented contract of `POST /v1/workflows/{workflow_id}/trigger`, and the job view."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field


class WorkflowEnrichmentPreferences(BaseModel):
    model_config = ConfigDict(extra="forbid")

    enabled: bool = Field(True, description="Run the workflow's enrich step (+2 credits)")
    fields: list[str] | None = Field(None, max_length=50, description="Fields wanted")


class WorkflowTriggerRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    record_data: dict[str, Any] = Field(
        description="Generic record payload: fields of a Lead, Contact, Opportunity or custom "
        "object (Salesforce field names)",
        min_length=1,
    )
    source_system: str | None = Field(
        None, max_length=100, description="Source system (e.g. 'eloqua', 'cdp', 'data_lake')"
    )
    enrichment_preferences: WorkflowEnrichmentPreferences | None = Field(
        None, description="Optional enrichment preferences and configuration"
    )


class WorkflowTriggerResponse(BaseModel):
    success: bool
    status: Literal["triggered", "queued", "failed"]
    request_id: str
    workflow_id: str
    processing_time_ms: int
    enrichment_job_id: str | None = None
    credits_consumed: int
    credits_remaining: int
    cached: bool


class StepProgress(BaseModel):
    name: str
    status: Literal["pending", "done", "skipped", "failed"]
    detail: dict[str, Any] = Field(default_factory=dict)


class WorkflowJobResponse(BaseModel):
    success: bool
    job_id: str
    workflow_id: str
    status: Literal["queued", "running", "retrying", "completed", "failed"]
    attempts: int
    steps: list[StepProgress]
    error: str | None = None
    record_id: str | None = None


class AuditEntry(BaseModel):
    timestamp: str
    workflow_id: str
    job_id: str
    request_id: str | None
    kind: str
    step: str | None
    body: dict[str, Any]


class AuditQuery(BaseModel):
    model_config = ConfigDict(extra="forbid")

    job_id: str | None = Field(None, max_length=64)
    workflow_id: str | None = Field(None, max_length=100)
    limit: int = Field(100, ge=1, le=1000)


class AuditResponse(BaseModel):
    success: bool
    entries: list[AuditEntry]
