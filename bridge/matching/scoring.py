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

import operator
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np
from rapidfuzz import fuzz, process
from rapidfuzz.distance import DamerauLevenshtein, Indel, JaroWinkler

from bridge.matching.frequency import NameFrequency, first_token
from bridge.matching.profiles import Profile

NAN = float("nan")


def _pairs(
    left: Sequence[str], right: Sequence[str], scorer: object, scale: float = 1.0
) -> np.ndarray:
    """Element-wise similarity of aligned pairs in [0, 1] (one `cpdist` call, in C); NaN where
    either side is empty (a missing value is no evidence either way)."""
    if not left:
        return np.zeros(0)
    sims = process.cpdist(left, right, scorer=scorer, dtype=np.float32, workers=1) / scale
    sims = sims.astype(np.float64)
    sims[_missing(left, right)] = NAN
    return sims


def _missing(left: Sequence[str], right: Sequence[str]) -> np.ndarray:
    """Pairs where either side is empty (map(len) runs in C: this is on the hot path)."""
    n = len(left)
    return (np.fromiter(map(len, left), np.int64, n) == 0) | (
        np.fromiter(map(len, right), np.int64, n) == 0
    )


def _eq(left: Sequence[str], right: Sequence[str]) -> np.ndarray:
    out = np.fromiter(map(operator.eq, left, right), bool, len(left)).astype(np.float64)
    out[_missing(left, right)] = NAN
    return out


def _graded(left: Sequence[str], right: Sequence[str], grade: Callable[[str, str], float]):  # type: ignore[no-untyped-def]
    """Equality, refined by `grade` only where both sides are present and differ."""
    out = _eq(left, right)
    for i in np.flatnonzero(out == 0.0):
        out[i] = grade(left[i], right[i])
    return out


@dataclass
class Comparison:
    """Field similarities of aligned (candidate, record) pairs: `candidates[i]` vs `records[i]`."""

    candidates: Sequence[Profile]
    records: Sequence[Profile]
    sims: dict[str, np.ndarray] = field(default_factory=dict)
    swapped: np.ndarray | None = None  # first/last names matched crosswise
    subset_name: np.ndarray | None = None  # company names agree only as a subset
    support: np.ndarray | None = None
    # term-frequency adjustments (log2) of the record's first and last name, when known
    tf_first: np.ndarray | None = None
    tf_last: np.ndarray | None = None

    def sim(self, name: str) -> np.ndarray:
        if name not in self.sims:
            self.sims[name] = _pairs(
                [c.value(name) for c in self.candidates],
                [r.value(name) for r in self.records],
                Indel.normalized_similarity,
            )
        return self.sims[name]

    def part(self, start: int, stop: int) -> Comparison:
        """The pairs start..stop (one candidate's block, when pairs of many are compared)."""
        sl = slice(start, stop)
        return Comparison(
            self.candidates[sl], self.records[sl], {k: v[sl] for k, v in self.sims.items()},
            None if self.swapped is None else self.swapped[sl],
            None if self.subset_name is None else self.subset_name[sl],
            None if self.support is None else self.support[sl],
            None if self.tf_first is None else self.tf_first[sl],
            None if self.tf_last is None else self.tf_last[sl],
        )  # fmt: skip


def _mean2(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Mean of two similarity arrays, ignoring a missing side (NaN when both are missing)."""
    both = ~np.isnan(a) & ~np.isnan(b)
    return np.where(both, (a + b) / 2, np.fmax(a, b))


def _nicknames(cands: Sequence[Profile], recs: Sequence[Profile], sims: np.ndarray) -> np.ndarray:
    sims = sims.copy()
    for i, (c, r) in enumerate(zip(cands, recs, strict=True)):
        if not c.first or not r.first or sims[i] >= 0.999:
            continue
        head, other = c.first.split()[0], r.first.split()[0]
        if other in c.first_forms or head in r.first_forms:
            sims[i] = 1.0  # a nickname ('Bob' / 'Robert')
        elif (len(head) == 1 or len(other) == 1) and head[0] == other[0]:
            sims[i] = max(sims[i], 0.85)  # an initial
    return sims


def _acronyms(cands: Sequence[Profile], recs: Sequence[Profile]) -> np.ndarray:
    return np.fromiter(
        (
            bool(c.company and r.company)
            and (
                (bool(c.company_acronym) and c.company_acronym == r.company.replace(" ", ""))
                or (bool(r.company_acronym) and r.company_acronym == c.company.replace(" ", ""))
            )
            for c, r in zip(cands, recs, strict=True)
        ),
        bool,
        len(cands),
    )


def _date(a: str, b: str) -> float:
    """Dates of birth: 1 equal, 0.9 day and month swapped, 0.8 one digit wrong or two
    neighbours transposed, 0.4 same year and month or same year and day, else 0."""
    if not a or not b:
        return NAN
    if a == b:
        return 1.0
    if len(a) == len(b) == 8 and a[:4] == b[:4] and a[4:6] == b[6:] and a[6:] == b[4:6]:
        return 0.9
    if DamerauLevenshtein.distance(a, b) <= 1:
        return 0.8
    if len(a) == len(b) == 8 and a[:4] == b[:4] and (a[4:6] == b[4:6] or a[6:] == b[6:]):
        return 0.4
    return 0.0


def _ident(a: str, b: str) -> float:
    """National ids: 1 equal, 0.8 one digit wrong or transposed, else 0."""
    if not a or not b:
        return NAN
    if a == b:
        return 1.0
    return 0.8 if DamerauLevenshtein.distance(a, b) <= 1 else 0.0


def compare(
    cand: Profile | Sequence[Profile],
    records: Sequence[Profile],
    freq: NameFrequency | None = None,
) -> Comparison:
    """Compare one candidate with each record, or aligned candidates with records. `freq`:
    name frequencies of the records' index (term-frequency adjustments of name agreement)."""
    cands = [cand] * len(records) if isinstance(cand, Profile) else list(cand)
    comp = Comparison(cands, records)
    n = len(records)
    jw = JaroWinkler.normalized_similarity
    comp.sims["email"] = _pairs(
        [c.email for c in cands], [r.email for r in records], Indel.normalized_similarity
    )
    comp.sims["domain"] = _eq([c.domain for c in cands], [r.domain for r in records])
    phone = np.full(n, NAN)
    for i, (c, r) in enumerate(zip(cands, records, strict=True)):
        if c.phones and r.phones:
            phone[i] = (
                1.0
                if set(c.phones) & set(r.phones)
                else Indel.normalized_similarity(c.phones[0], r.phones[0])
            )
    comp.sims["phone"] = phone
    comp.sims["postal_code"] = _eq([c.postal_code for c in cands], [r.postal_code for r in records])
    comp.sims["city"] = _pairs([c.city for c in cands], [r.city for r in records], jw)
    comp.sims["street"] = _pairs(
        [c.street for c in cands], [r.street for r in records], fuzz.token_sort_ratio, 100
    )
    comp.sims["state"] = _eq([c.state for c in cands], [r.state for r in records])
    comp.sims["birthdate"] = _graded(
        [c.birthdate for c in cands], [r.birthdate for r in records], _date
    )
    comp.sims["national_id"] = _graded(
        [c.national_id for c in cands], [r.national_id for r in records], _ident
    )
    # A supporting field: something besides the name that says "same organisation/place".
    support = np.zeros(n, dtype=bool)
    for key, cut in (("domain", 1.0), ("phone", 1.0), ("postal_code", 1.0), ("street", 0.9),
                     ("email", 1.0), ("national_id", 1.0)):  # fmt: skip
        support |= comp.sims[key] >= cut  # NaN (missing) compares False
    comp.support = support

    # Company names.
    mine, theirs = [c.company for c in cands], [r.company for r in records]
    company = np.fmax(
        _pairs(mine, theirs, fuzz.token_sort_ratio, 100), _pairs(mine, theirs, fuzz.ratio, 100)
    )
    subset = (_pairs(mine, theirs, fuzz.token_set_ratio, 100) >= 0.999) & (company < 0.999)
    boosted = np.where(subset & support, np.fmax(company, 0.95), company)
    boosted = np.where(_acronyms(cands, records) & support, np.fmax(boosted, 0.9), boosted)
    comp.sims["company"] = boosted  # 'IBM' / 'International Business Machines' with support
    comp.subset_name = subset & ~support

    person = np.fromiter((c.person for c in cands), bool, n)
    if person.any():
        f1, l1 = [c.first for c in cands], [c.last for c in cands]
        f2, l2 = [r.first for r in records], [r.last for r in records]
        first = _nicknames(cands, records, _pairs(f1, f2, jw))
        last = _pairs(l1, l2, jw)
        # Swapped first/last names ("Smith John"): compare crosswise, keep the better reading.
        cross_first, cross_last = _pairs(f1, l2, jw), _pairs(l1, f2, jw)
        direct = _mean2(first, last)
        cross = _mean2(cross_first, cross_last)
        swapped = cross > np.where(np.isnan(direct), 0.0, direct) + 0.05
        swapped &= ~np.isnan(cross_first) & ~np.isnan(cross_last)
        comp.swapped = swapped & person
        comp.sims["first_name"] = np.where(comp.swapped, cross_last, first)
        comp.sims["last_name"] = np.where(comp.swapped, cross_first, last)
        name = np.where(comp.swapped, cross - 0.02, direct)
        # Only a last name on one side: a weaker reading of the same evidence.
        name = np.where(np.isnan(first) & ~np.isnan(last), last * 0.9, name)
        if freq is not None:
            comp.tf_first = freq.first.adjustment([first_token(r.first) for r in records], -2, 4)
            comp.tf_last = freq.last.adjustment([r.last for r in records], -3, 4)
        comp.sims["name"] = np.where(person, name, boosted)
        comp.sims["name_company"] = np.where(person, np.minimum(name, boosted), boosted)
    else:
        comp.sims["name"] = boosted
        comp.sims["name_company"] = boosted
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


PERSON_PRIOR = -10.0
COMPANY_PRIOR = -8.0


def _tf(sims: np.ndarray, adjustment: np.ndarray | None) -> np.ndarray:
    """The term-frequency adjustment where names agree (half of it on a near agreement)."""
    if adjustment is None:
        return np.zeros(sims.shape)
    out = np.where(sims >= 0.99, adjustment, np.where(sims >= 0.92, adjustment / 2, 0.0))
    return np.where(np.isnan(sims), 0.0, out)


def person_weights(comp: Comparison) -> np.ndarray:
    s = comp.sims
    # A single typo leaves Jaro-Winkler between 0.88 and 0.96 on most names: near
    # agreements keep most of the weight of an exact one (Splink's 0.92 / 0.88 levels).
    w = _bands(s["last_name"], [(0.99, 6.0), (0.92, 5.0), (0.88, 3.5), (0.70, -2.0)], -8.0)
    w += _tf(s["last_name"], comp.tf_last)
    w += _bands(
        s["first_name"], [(0.99, 4.0), (0.92, 3.5), (0.88, 2.5), (0.85, 1.0), (0.70, -2.0)], -9.0
    )
    w += _tf(s["first_name"], comp.tf_first)
    # A clearly different first name (not a typo, nickname, initial or swap) is what tells
    # family members apart, who share a surname, an address and a phone.
    w += _bands(s["email"], [(1.0, 11.0), (0.9, 2.0)], -1.5)
    w += _bands(s["company"], [(0.99, 5.0), (0.9, 4.0), (0.8, 1.0), (0.6, -1.0)], -3.0)
    w += _bands(s["domain"], [(1.0, 3.0)], -1.0)
    w += _bands(s["birthdate"], [(1.0, 7.0), (0.9, 4.0), (0.8, 3.0), (0.4, -2.0)], -5.0)
    w += _bands(s["national_id"], [(1.0, 9.0), (0.8, 5.0)], -5.0)
    # Where someone lives and their phone are one household's evidence, not independent
    # facts: family members share all of them. Agreement counts once (the stronger, plus a
    # quarter of the other), capped; disagreement adds up.
    place = _bands(s["street"], [(0.95, 4.0), (0.8, 2.0)], -0.5)
    place += _bands(s["postal_code"], [(1.0, 3.0)], -1.0)
    place += _bands(s["city"], [(0.95, 1.0)], -0.5)
    place += _bands(s["state"], [(1.0, 0.5)], -0.5)
    place = np.minimum(place, 6.0)
    phone = _bands(s["phone"], [(1.0, 8.0)], -1.0)
    high, low = np.maximum(phone, place), np.minimum(phone, place)
    w += np.where(low > 0, high + 0.25 * low, phone + place)
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
    person = np.fromiter((c.person for c in comp.candidates), bool, len(comp.candidates))
    if person.all():
        total = PERSON_PRIOR + person_weights(comp)
    elif not person.any():
        total = COMPANY_PRIOR + company_weights(comp)
    else:
        total = np.where(
            person, PERSON_PRIOR + person_weights(comp), COMPANY_PRIOR + company_weights(comp)
        )
    return 1.0 / (1.0 + np.exp2(-total))
