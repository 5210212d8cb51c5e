"""What each agent does with one record: its required fields, its work, its price.

phone / email / phone-email go through the enrichment cascade (`bridge.enrichment`), priced
like the sync lookups: 5 credits per phone found, 5 per email found, nothing when nothing was
found. The field being looked for is never given to the cascade as input (a record's own phone
is not "found"). deep-research asks the AI service and pays the documented band of its answer.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Protocol

from bridge.ai.errors import AiBadAnswer, AiNotConfigured, AiUnavailable
from bridge.ai.service import AiService, Question
from bridge.enrichment.lookups import PRICES
from bridge.enrichment.results import Subject
from bridge.enrichment.service import EnrichmentService


class RunFailed(Exception):
    """The whole run cannot go on (not one record's problem): it is marked failed."""


@dataclass
class Outcome:
    status: str  # done | error
    credits: int
    provider: str | None
    outcome: str
    found: bool
    row: dict[str, Any] | None


class Agent(Protocol):
    name: str

    def missing(self, record: Mapping[str, Any]) -> list[str]: ...
    def work(self, tenant_id: int, record: Mapping[str, Any]) -> Outcome: ...


def _csv_bool(value: bool) -> str:
    return "true" if value else "false"


class PersonAgent:
    """phone, email or phone-email."""

    def __init__(self, name: str, enrichment: EnrichmentService, budget: int) -> None:
        self.name = name
        self.wanted = {"phone": ("phone",), "email": ("email",), "phone-email": ("email", "phone")}[
            name
        ]
        self.enrichment = enrichment
        self.budget = budget

    def missing(self, record: Mapping[str, Any]) -> list[str]:
        # A sought field is held back from the lookup (see `work`), so it cannot make the
        # record workable: phone-email with only an email is skipped, not worked on nothing.
        has = {k for k, v in record.items() if v and k not in self.wanted}
        named = {"first_name", "last_name"} <= has and bool({"company_name", "company_url"} & has)
        if self.name == "email":  # the documented email lookup needs name + company
            if named:
                return []
            gaps = [n for n in ("first_name", "last_name") if n not in has]
            return gaps + ([] if {"company_name", "company_url"} & has else ["company_name"])
        if named or "linkedin" in has or "email" in has:
            return []
        keys = ["first_name+last_name+company_name", "linkedin", "email"]
        keys = [k for k in keys if k not in self.wanted]
        return [", ".join(keys[:-1]) + " or " + keys[-1]]

    def work(self, tenant_id: int, record: Mapping[str, Any]) -> Outcome:
        facts = {
            "first_name": record.get("first_name"),
            "last_name": record.get("last_name"),
            "company": record.get("company_name"),
            "website": record.get("company_url"),
            "linkedin_id": record.get("linkedin"),
            "country": record.get("country"),
            "email": None if "email" in self.wanted else record.get("email"),
        }
        subject = Subject.of("person", str(record["id"]), facts)
        result = self.enrichment.enrich(
            tenant_id, f"agents:{self.name}", subject, self.wanted, budget=self.budget
        )
        found = {f: result.value(f) for f in self.wanted if result.value(f)}
        providers = sorted({result.values[f].provider for f in found})
        row = {
            "id": record["id"],
            "first_name": record.get("first_name"),
            "last_name": record.get("last_name"),
            "company_name": record.get("company_name"),
            "company_url": record.get("company_url"),
            "linkedin": record.get("linkedin"),
        }
        if "phone" in self.wanted:
            row.update(phone_number=found.get("phone"), phone_found=_csv_bool("phone" in found))
        if "email" in self.wanted:
            row.update(email=found.get("email"), email_found=_csv_bool("email" in found))
        outcome = "found: " + "+".join(sorted(found)) if found else "not_found"
        if result.cached:
            outcome += " (cached)"
        return Outcome(
            status="done",
            credits=sum(PRICES[f] for f in found),
            provider="+".join(providers) or None,
            outcome=outcome,
            found=bool(found),
            row=row,
        )


# What a research query tells the model and the search tool about a record: enough to find
# the subject, no contact data (a Lead's email and phone stay out of third-party prompts).
QUERY_FIELDS = ("first_name", "last_name", "company_name", "company_url", "linkedin", "country")


class ResearchAgent:
    name = "deep-research"

    def __init__(self, ai: AiService, options: Mapping[str, Any], entity_type: str) -> None:
        self.ai = ai
        self.entity_type = entity_type
        self.hint = str(options.get("query_hint") or "")
        self.effort = str(options.get("effort") or "medium")
        self.agent_type = str(options.get("agent_type") or "general")

    def missing(self, record: Mapping[str, Any]) -> list[str]:
        has = {k for k, v in record.items() if v}
        if self.entity_type == "company":
            return [] if {"company_name", "company_url"} & has else ["company_name or company_url"]
        if {"first_name", "last_name"} <= has or "linkedin" in has:
            return []  # an email alone is not enough: it is never sent (see QUERY_FIELDS)
        return ["first_name+last_name or linkedin"]

    def query(self, record: Mapping[str, Any]) -> str:
        known = {k: record[k] for k in QUERY_FIELDS if record.get(k)}
        facts = "; ".join(f"{k}: {v}" for k, v in known.items())
        subject = "company" if self.entity_type == "company" else "person"
        text = f"Research this {subject} ({facts})."
        return f"{text} {self.hint}".strip() if self.hint else text

    def work(self, tenant_id: int, record: Mapping[str, Any]) -> Outcome:
        query = self.query(record)
        name = (
            record.get("company_name")
            if self.entity_type == "company"
            else " ".join(p for p in (record.get("first_name"), record.get("last_name")) if p)
        )
        row: dict[str, Any] = {
            "id": record["id"],
            "entity_type": self.entity_type,
            "agent_type": self.agent_type,
            "name": name or None,
            "company_url": record.get("company_url"),
            "query": query,
        }
        try:
            answer = self.ai.ask(
                Question(query=query, effort=self.effort, agent_type=self.agent_type, research=True)
            )
        except AiNotConfigured as exc:
            raise RunFailed(str(exc)) from None
        except (AiUnavailable, AiBadAnswer) as exc:
            return Outcome("error", 0, "ai", f"error: {exc}"[:80], False, None)
        row.update(
            response=answer.response,
            confidence=answer.confidence,
            sources=" ".join(answer.sources) or None,
        )
        provider = "ai+search" if answer.searched else "ai"
        return Outcome("done", answer.credits, provider, "researched", True, row)
