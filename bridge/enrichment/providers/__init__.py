"""Providers answer fields about a subject. Each says which fields it can give, whether it is
GDPR-safe, and what it spent. `offline` is always there; `upstream` when configured."""

from __future__ import annotations

from typing import Protocol

from bridge.enrichment.results import ProviderAnswer, Subject

# Every provider this service can run; a configured order may only name these. `upstream` is
# named even where it is not configured (no URL): the cascade then passes over it.
PROVIDER_NAMES = ("offline", "upstream")


class ProviderUnavailable(Exception):
    """The provider cannot answer now (rate limited, out of credits, down): skip it. `partial`:
    what it had already answered (and spent) before failing, kept rather than thrown away."""

    def __init__(self, reason: str, partial: ProviderAnswer | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.partial = partial


class Provider(Protocol):
    name: str
    gdpr_safe: bool

    def supplies(self, kind: str) -> frozenset[str]:
        """Fields this provider can answer for a subject of `kind`."""
        ...

    def lookup(self, subject: Subject, wanted: frozenset[str], budget: int) -> ProviderAnswer:
        """Answer what it can of `wanted`, spending at most `budget` credits."""
        ...
