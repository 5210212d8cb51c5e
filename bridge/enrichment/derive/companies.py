"""Company names: legal form and the name without it (cleanco)."""

from __future__ import annotations

from cleanco import basename, typesources
from cleanco.clean import normalized, strip_tail

from bridge.enrichment.derive import Derived

# cleanco's `matches` normalises every known term on every call (~0.8 ms a name, the bulk of a
# form submit's CPU); normalise them once and keep cleanco's order (longest term first).
_TYPES = tuple((kind, normalized(term)) for kind, term in typesources())


def legal_forms(name: str) -> list[str]:
    """Business types whose legal term is in `name`: the same answer as cleanco's `matches`."""
    parts = {normalized(part) for part in strip_tail(name).split()}
    return [kind for kind, term in _TYPES if term in parts]


def derive(raw: str) -> Derived:
    name = raw.strip()
    if not name:
        return {}
    base = basename(name)
    out: Derived = {}
    if base and base != name:
        out["company_basename"] = (base, 0.85)
        forms = legal_forms(name)
        if forms:
            out["company_legal_form"] = (forms[0], 0.7)
    elif base:
        out["company_basename"] = (base, 0.9)
    return out
