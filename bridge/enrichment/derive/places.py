"""Countries and states as ISO codes (pycountry)."""

from __future__ import annotations

from functools import lru_cache

import pycountry

from bridge.enrichment.derive import Derived

# Common ways people write countries that ISO names do not cover.
ALIASES = {"uk": "GB", "great britain": "GB", "england": "GB", "usa": "US", "u.s.": "US",
           "u.s.a.": "US", "america": "US", "holland": "NL", "south korea": "KR"}  # fmt: skip


@lru_cache(maxsize=4096)
def country_code(raw: str) -> str | None:
    text = raw.strip()
    if not text:
        return None
    alias = ALIASES.get(text.lower())
    if alias:
        return alias
    try:
        return str(pycountry.countries.lookup(text).alpha_2)
    except LookupError:
        return None


def country_name(code: str) -> str | None:
    country = pycountry.countries.get(alpha_2=code.upper())
    return str(country.name) if country else None


@lru_cache(maxsize=4096)
def state_code(raw: str, country: str | None) -> str | None:
    text = raw.strip()
    if not text:
        return None
    candidates = pycountry.subdivisions.get(country_code=country) if country else None
    for sub in candidates or ():
        if text.lower() in (sub.name.lower(), sub.code.lower(), sub.code.split("-")[1].lower()):
            return str(sub.code)
    if country is None:
        try:
            return str(pycountry.subdivisions.lookup(text).code)
        except LookupError:
            return None
    return None


def derive(country: str | None, state: str | None, phone_country: str | None) -> Derived:
    out: Derived = {}
    code = country_code(country) if country else None
    if code:
        out["country"] = (code, 0.95)
    elif phone_country:
        # Where the phone is registered is a decent hint of where the person is, no more.
        code = phone_country
        out["country"] = (code, 0.7)
    if code:
        name = country_name(code)
        if name:
            out["country_name"] = (name, out["country"][1])
    if state:
        sub = state_code(state, code)
        if sub:
            out["state_code"] = (sub, 0.9)
    return out
