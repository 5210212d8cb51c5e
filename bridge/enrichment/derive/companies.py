"""Company names: legal form and the name without it (cleanco)."""

from __future__ import annotations

from cleanco import basename, matches, typesources

from bridge.enrichment.derive import Derived

_TYPES = typesources()


def derive(raw: str) -> Derived:
    name = raw.strip()
    if not name:
        return {}
    base = basename(name)
    out: Derived = {}
    if base and base != name:
        out["company_basename"] = (base, 0.85)
        forms = matches(name, _TYPES)
        if forms:
            out["company_legal_form"] = (forms[0], 0.7)
    elif base:
        out["company_basename"] = (base, 0.9)
    return out
