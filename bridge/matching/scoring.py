"""Comparing one candidate with a block of records: per-field similarities and the evidence.

Similarities come from RapidFuzz's vectorised `process.cdist` over the whole block (one call per
field, not one per pair): Jaro-Winkler for person names (Splink's choice), token-sort/Indel for
company names, with token_set_ratio's subset match ("Acme" ~ "Acme Holdings") counted only
when a supporting field (domain, phone, postcode, street, email) agrees.

The overall confidence is a Fellegi-Sunter style match probability: each field's comparison
falls in a band with a log2 Bayes factor (Splink-like bands 0.92 / 0.88 / 0.70 for names), the
factors add up with a prior, and `2**w / (1 + 2**w)` is the probability. Missing values weigh 0.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
from rapidfuzz import fuzz, process
from rapidfuzz.distance import Indel, JaroWinkler

from bridge.matching.profiles import Profile

NAN = float("nan")


def _cdist(query: str, choices: Sequence[str], scorer: object, scale: float = 1.0) -> np.ndarray:
    """Similarity of `query` to each choice in [0, 1]; NaN where either side is empty."""
    out = np.full(len(choices), NAN)
    if not query:
        return out
    present = [i for i, c in enumerate(choices) if c]
    if present:
        scores = process.cdist(
            [query], [choices[i] for i in present], scorer=scorer, dtype=np.float32, workers=1
        )[0]
        out[present] = scores / scale
    return out


def _eq(query: str, choices: Sequence[str]) -> np.ndarray:
    out = np.full(len(choices), NAN)
    if not query:
        return out
    for i, c in enumerate(choices):
        if c:
            out[i] = 1.0 if c == query else 0.0
    return out


@dataclass
class Comparison:
    """Field similarities of one candidate against `records` (arrays aligned with them)."""

    candidate: Profile
    records: Sequence[Profile]
    sims: dict[str, np.ndarray] = field(default_factory=dict)
    swapped: np.ndarray | None = None  # first/last names matched crosswise
    subset_name: np.ndarray | None = None  # company names agree only as a subset
    support: np.ndarray | None = None

    def sim(self, name: str) -> np.ndarray:
        if name not in self.sims:
            self.sims[name] = self._generic(name)
        return self.sims[name]

    def _generic(self, name: str) -> np.ndarray:
        query = self.candidate.value(name)
        return _cdist(query, [r.value(name) for r in self.records], Indel.normalized_similarity)


def _first_names(
    cand: Profile, firsts: Sequence[str], forms: Sequence[frozenset[str]]
) -> np.ndarray:
    sims = _cdist(cand.first, firsts, JaroWinkler.normalized_similarity)
    if cand.first:
        head = cand.first.split()[0]
        for i, first in enumerate(firsts):
            if not first:
                continue
            other = first.split()[0]
            if other in cand.first_forms or head in forms[i]:
                sims[i] = 1.0  # nickname ('Bob' / 'Robert')
            elif (len(head) == 1 or len(other) == 1) and head[0] == other[0]:
                sims[i] = max(sims[i], 0.85)  # an initial
    return sims


def compare(cand: Profile, records: Sequence[Profile]) -> Comparison:
    comp = Comparison(cand, records)
    n = len(records)
    emails = [r.email for r in records]
    comp.sims["email"] = _cdist(cand.email, emails, Indel.normalized_similarity)
    comp.sims["domain"] = _eq(cand.domain, [r.domain for r in records])
    phone = np.full(n, NAN)
    if cand.phones:
        for i, r in enumerate(records):
            if r.phones:
                phone[i] = (
                    1.0
                    if set(cand.phones) & set(r.phones)
                    else max(Indel.normalized_similarity(cand.phone, p) for p in r.phones)
                )
    comp.sims["phone"] = phone
    comp.sims["postal_code"] = _eq(cand.postal_code, [r.postal_code for r in records])
    comp.sims["city"] = _cdist(
        cand.city, [r.city for r in records], JaroWinkler.normalized_similarity
    )
    comp.sims["street"] = _cdist(
        cand.street, [r.street for r in records], fuzz.token_sort_ratio, 100
    )
    # A supporting field: something besides the name that says "same organisation/place".
    support = np.zeros(n, dtype=bool)
    for key, cut in (("domain", 1.0), ("phone", 1.0), ("postal_code", 1.0), ("street", 0.9),
                     ("email", 1.0)):  # fmt: skip
        support |= np.nan_to_num(comp.sims[key], nan=0.0) >= cut
    comp.support = support

    # Company names.
    companies = [r.company for r in records]
    sort = _cdist(cand.company, companies, fuzz.token_sort_ratio, 100)
    plain = _cdist(cand.company, companies, fuzz.ratio, 100)
    company = np.fmax(sort, plain)
    tset = _cdist(cand.company, companies, fuzz.token_set_ratio, 100)
    subset = (tset >= 0.999) & (company < 0.999)
    boosted = np.where(subset & support, np.fmax(company, 0.95), company)
    if cand.company:
        for i, r in enumerate(records):
            if (
                support[i]
                and r.company
                and (
                    (cand.company_acronym and cand.company_acronym == r.company.replace(" ", ""))
                    or (r.company_acronym and r.company_acronym == cand.company.replace(" ", ""))
                )
            ):
                boosted[i] = max(boosted[i], 0.9)  # 'IBM' / 'International Business Machines'
    comp.sims["company"] = boosted
    comp.subset_name = subset & ~support

    if cand.person:
        firsts = [r.first for r in records]
        lasts = [r.last for r in records]
        forms = [r.first_forms for r in records]
        first = _first_names(cand, firsts, forms)
        last = _cdist(cand.last, lasts, JaroWinkler.normalized_similarity)
        # Swapped first/last names ("Smith John"): compare crosswise, keep the better reading.
        cross_first = _cdist(cand.first, lasts, JaroWinkler.normalized_similarity)
        cross_last = _cdist(cand.last, firsts, JaroWinkler.normalized_similarity)
        direct = np.nanmean(np.vstack([first, last]), axis=0) if n else first
        cross = np.nanmean(np.vstack([cross_first, cross_last]), axis=0) if n else first
        swapped = np.nan_to_num(cross, nan=0) > np.nan_to_num(direct, nan=0) + 0.05
        swapped &= ~np.isnan(cross_first) & ~np.isnan(cross_last)
        comp.swapped = swapped
        comp.sims["first_name"] = np.where(swapped, cross_last, first)
        comp.sims["last_name"] = np.where(swapped, cross_first, last)
        person = np.where(swapped, cross - 0.02, direct)
        # Only a last name on one side: a weaker reading of the same evidence.
        one_sided = np.isnan(first) & ~np.isnan(last)
        comp.sims["name"] = np.where(one_sided, last * 0.9, person)
        comp.sims["name_company"] = np.minimum(comp.sims["name"], comp.sims["company"])
    else:
        comp.sims["name"] = comp.sims["company"]
        comp.sims["name_company"] = comp.sims["company"]
        comp.sims["first_name"] = np.full(n, NAN)
        comp.sims["last_name"] = np.full(n, NAN)
        comp.swapped = np.zeros(n, dtype=bool)
    comp.sims["website"] = comp.sims["domain"]
    return comp


# --- evidence: bands -> log2 Bayes factors -----------------------------------------------------


def _bands(sims: np.ndarray, bands: Sequence[tuple[float, float]], otherwise: float) -> np.ndarray:
    """Weight of the first band whose cut-off the similarity reaches; NaN (missing) weighs 0."""
    out = np.full(sims.shape, otherwise)
    for cut, weight in reversed(bands):
        out = np.where(sims >= cut - 1e-9, weight, out)
    return np.where(np.isnan(sims), 0.0, out)


PERSON_PRIOR = -11.0
COMPANY_PRIOR = -8.0


def person_weights(comp: Comparison) -> np.ndarray:
    s = comp.sims
    w = _bands(s["last_name"], [(0.99, 6.0), (0.92, 4.5), (0.88, 2.5), (0.70, -1.5)], -6.0)
    w += _bands(s["first_name"], [(0.99, 4.0), (0.92, 3.0), (0.88, 1.5), (0.85, 0.5)], -4.0)
    w += _bands(s["email"], [(1.0, 11.0), (0.9, 2.0)], -1.5)
    w += _bands(s["phone"], [(1.0, 8.0)], -1.0)
    w += _bands(s["company"], [(0.99, 4.0), (0.9, 3.0), (0.8, 1.0), (0.6, -1.0)], -3.0)
    w += _bands(s["domain"], [(1.0, 3.0)], -1.0)
    w += _bands(s["postal_code"], [(1.0, 2.0)], -1.0)
    w += _bands(s["city"], [(0.95, 1.0)], -0.5)
    w += _bands(s["street"], [(0.9, 2.0)], -0.5)
    return w


def company_weights(comp: Comparison) -> np.ndarray:
    s = comp.sims
    w = _bands(s["company"], [(0.99, 11.5), (0.95, 7.0), (0.88, 4.5), (0.75, 1.0)], -6.0)
    w += _bands(s["domain"], [(1.0, 11.0)], -2.0)
    w += _bands(s["phone"], [(1.0, 8.0)], -1.5)
    w += _bands(s["postal_code"], [(1.0, 2.0)], -1.5)
    w += _bands(s["city"], [(0.95, 1.5)], -1.0)
    w += _bands(s["street"], [(0.9, 3.0), (0.6, 0.0)], -1.0)
    return w


def confidence(comp: Comparison) -> np.ndarray:
    """Match probability of each pair (0..1)."""
    if comp.candidate.person:
        total = PERSON_PRIOR + person_weights(comp)
    else:
        total = COMPANY_PRIOR + company_weights(comp)
    return 1.0 / (1.0 + np.exp2(-total))
