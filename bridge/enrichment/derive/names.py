"""Person names split into parts (nameparser)."""

from __future__ import annotations

from nameparser import HumanName

from bridge.enrichment.derive import Derived


def derive(full_name: str | None, first: str | None, last: str | None) -> Derived:
    if first and last:
        # Already split by the source; only tidy a title or suffix out of them.
        parsed = HumanName(f"{first} {last}")
        confidence = 0.95
    elif full_name:
        parsed = HumanName(full_name)
        confidence = 0.85
    else:
        return {}
    out: Derived = {}
    for name, value in (
        ("first_name", parsed.first),
        ("middle_name", parsed.middle),
        ("last_name", parsed.last),
        ("salutation", parsed.title),
        ("name_suffix", parsed.suffix),
    ):
        if value:
            out[name] = (value, confidence)
    return out
