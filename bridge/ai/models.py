"""The documented contract of `POST /v1/enrich/ai` and `POST /v1/enrich/research`.

The research reference documents `query`, `options` and `agent_type`; it also takes `effort`
(default medium) and `max_credits` like its sibling. `agent_type` is one of the three agents
(general, funding, legal); null means general. Fields the docs do not name are a 422, not
silently dropped (a misspelt `max_credit` must not lift the cap).
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

Effort = Literal["low", "medium", "high"]
AgentTypeName = Literal["general", "funding", "legal"]
MAX_QUERY_CHARS = 8_000


class AIEnrichmentOptions(BaseModel):
    model_config = ConfigDict(extra="forbid")
    format_json: bool = Field(
        False, strict=True, description="Return the response as a structured JSON object"
    )


class _Question(BaseModel):
    model_config = ConfigDict(extra="forbid")

    query: str = Field(min_length=1, max_length=MAX_QUERY_CHARS,
                       description="The prompt or question (at most 8,000 characters)")  # fmt: skip
    options: AIEnrichmentOptions | None = None
    agent_type: AgentTypeName | None = Field(
        None, description="Specialised agent: general (default), funding or legal"
    )
    max_credits: int | None = Field(
        None, gt=0, description="Maximum credits to spend on this request (caps the charge)"
    )

    @field_validator("query")
    @classmethod
    def _not_blank(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("query must be non-empty")
        return value

    @property
    def format_json(self) -> bool:
        return bool(self.options and self.options.format_json)


class AIEnrichRequest(_Question):
    effort: Effort = Field("low", description="Enrichment effort: low (default), medium, high")


class DeepResearchRequest(_Question):
    effort: Effort = Field("medium", description="Research effort: low, medium (default), high")


class TokenUsage(BaseModel):
    prompt_tokens: int
    completion_tokens: int
    total_tokens: int


class AIEnrichResponse(BaseModel):
    success: bool
    query: str
    response: str | dict[str, Any]
    confidence: float | None = Field(None, ge=0, le=1)
    credits_consumed: int
    credits_remaining: int
    token_usage: TokenUsage
    processing_time_ms: int
    agent_used: str
