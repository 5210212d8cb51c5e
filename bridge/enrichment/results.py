"""What enrichment works on and answers: subjects, field values, provider answers, results."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

Kind = Literal["person", "company"]

# The facts a subject may carry in (from a request body or a Salesforce record).
SUBJECT_FACTS = (
    "first_name", "last_name", "full_name", "email", "phone", "mobile_phone", "title",
    "company", "company_domain", "website", "country", "state", "linkedin_id",
)  # fmt: skip


@dataclass(frozen=True)
class Subject:
    """One person or company to enrich, as known before enrichment (blank facts dropped)."""

    kind: Kind
    record_id: str
    facts: Mapping[str, str]

    @classmethod
    def of(cls, kind: Kind, record_id: str, facts: Mapping[str, Any]) -> Subject:
        clean = {}
        for name, value in facts.items():
            if name not in SUBJECT_FACTS:
                raise ValueError(f"unknown subject fact {name!r}")
            if value is not None and str(value).strip():
                clean[name] = str(value).strip()
        return cls(kind, record_id, clean)

    def get(self, name: str) -> str | None:
        return self.facts.get(name)

    def fingerprint(self) -> str:
        """Same facts, same fingerprint: a cached answer is only reused for the same input."""
        raw = json.dumps([self.kind, sorted(self.facts.items())], separators=(",", ":"))
        return hashlib.sha256(raw.encode()).hexdigest()[:32]


@dataclass(frozen=True)
class FieldValue:
    """One enriched field: the value, who gave it and how sure they are (0..1)."""

    value: Any
    provider: str
    confidence: float

    def as_json(self) -> dict[str, Any]:
        return {"value": self.value, "provider": self.provider, "confidence": self.confidence}

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> FieldValue:
        return cls(data["value"], str(data["provider"]), float(data["confidence"]))


@dataclass
class ProviderAnswer:
    """What one provider said about one subject; `credits` it spent doing so."""

    values: dict[str, FieldValue] = field(default_factory=dict)
    credits: int = 0


@dataclass
class EnrichmentResult:
    """The cascade's outcome for one subject."""

    record_id: str
    values: dict[str, FieldValue] = field(default_factory=dict)
    # provider -> why it was not asked or gave nothing usable (gdpr, rate_limited, ...)
    skipped: dict[str, str] = field(default_factory=dict)
    credits: int = 0  # spent at paid providers for this subject
    spent_by: dict[str, int] = field(default_factory=dict)
    cached: bool = False
    gdpr_restricted: bool = False

    def value(self, name: str) -> Any:
        found = self.values.get(name)
        return None if found is None else found.value

    def confidence(self, *names: str) -> float | None:
        """The best confidence among `names` that were found (None: none found)."""
        scores = [self.values[n].confidence for n in names if n in self.values]
        return max(scores) if scores else None

    def as_json(self) -> dict[str, Any]:
        return {
            "record_id": self.record_id,
            "values": {k: v.as_json() for k, v in self.values.items()},
            "skipped": self.skipped,
            "credits": self.credits,
            "gdpr_restricted": self.gdpr_restricted,
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> EnrichmentResult:
        return cls(
            record_id=str(data["record_id"]),
            values={k: FieldValue.from_json(v) for k, v in data.get("values", {}).items()},
            skipped=dict(data.get("skipped", {})),
            credits=int(data.get("credits", 0)),
            gdpr_restricted=bool(data.get("gdpr_restricted", False)),
        )
