"""Deterministic tie-breakers, the same for the API and the pipeline.

Matches whose confidence rounds to the same hundredth are ordered by the tie-breakers in turn
(default: most contacts, then most leads, then most opportunities, then the oldest record) and
finally by Salesforce id, so two runs over the same data always pick the same winner.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

DEFAULT_TIEBREAKERS = ("most_contacts", "most_leads", "most_opportunities", "oldest")
TIEBREAKERS = frozenset({
    "most_contacts", "most_leads", "most_opportunities", "oldest", "newest",
    "fewest_contacts", "fewest_leads", "fewest_opportunities",
})  # fmt: skip
CONFIDENCE_TIE_DECIMALS = 2


@dataclass(frozen=True)
class RecordStats:
    """What the tie-breakers look at for one Salesforce record."""

    contacts: int = 0
    leads: int = 0
    opportunities: int = 0
    created: str = ""  # ISO 8601 as Salesforce sends it; sorts chronologically


def parse_tiebreakers(value: Any) -> tuple[str, ...]:
    from bridge.matching.rules import RuleError

    if value is None:
        return DEFAULT_TIEBREAKERS
    if isinstance(value, str):
        value = [v.strip() for v in value.split(",") if v.strip()]
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise RuleError("tiebreakers must be a list of names")
    unknown = [v for v in value if v not in TIEBREAKERS]
    if unknown:
        raise RuleError(
            f"unknown tiebreaker(s) {', '.join(unknown)}; known: {', '.join(sorted(TIEBREAKERS))}"
        )
    return tuple(dict.fromkeys(value))


def _key(name: str, stats: RecordStats) -> Any:
    # Smaller sorts first.
    return {
        "most_contacts": -stats.contacts,
        "most_leads": -stats.leads,
        "most_opportunities": -stats.opportunities,
        "fewest_contacts": stats.contacts,
        "fewest_leads": stats.leads,
        "fewest_opportunities": stats.opportunities,
        # records without a date go last either way
        "oldest": (not stats.created, stats.created),
        "newest": (not stats.created, _inverted(stats.created)),
    }[name]


def _inverted(text: str) -> tuple[int, ...]:
    return tuple(-ord(c) for c in text)


def order(
    items: Iterable[Any],
    *,
    confidence: Callable[[Any], float],
    record_id: Callable[[Any], str],
    stats: Callable[[str], RecordStats],
    tiebreakers: Sequence[str] = DEFAULT_TIEBREAKERS,
) -> list[Any]:
    """Best first: confidence (to the hundredth), then each tie-breaker, then the id."""

    def key(item: Any) -> tuple[Any, ...]:
        rid = record_id(item)
        s = stats(rid)
        return (
            -round(confidence(item), CONFIDENCE_TIE_DECIMALS),
            *(_key(name, s) for name in tiebreakers),
            rid,
        )

    return sorted(items, key=key)
