"""Comparing one candidate with a block of records: per-field similarities and the evidence.

Similarities come from RapidFuzz's vectorised `process.cdist` over the whole block (one call per
field, not one per pair): Jaro-Winkler for person names (Splink's choice), token-sort/Indel for
company names, with token_set_ratio's subset match ("Acme" ~ "Acme Holdings") counted only
when a supporting field (domain, phone, postcode, street, email) agrees.

What the similarities weigh as evidence (the overall confidence) is in `evidence.py`.
"""

from __future__ import annotations

import operator
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np
from rapidfuzz import fuzz, process
from rapidfuzz.distance import OSA, DamerauLevenshtein, Indel, JaroWinkler

from bridge.matching import normalize as nz
from bridge.matching.frequency import TermFrequency, first_token
from bridge.matching.profiles import Profile

NAN = float("nan")


def _pairs(
    left: Sequence[str], right: Sequence[str], scorer: object, scale: float = 1.0
) -> np.ndarray:
    """Element-wise similarity of aligned pairs in [0, 1] (one `cpdist` call, in C); NaN where
    either side is empty (a missing value is no evidence either way)."""
    if not left:
        return np.zeros(0)
    missing = _missing(left, right)
    if missing.all():  # a field neither file has: nothing to compare
        return np.full(len(left), NAN)
    sims = process.cpdist(left, right, scorer=scorer, dtype=np.float32, workers=1) / scale
    sims = sims.astype(np.float64)
    sims[missing] = NAN
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
    # one email is a free-mail address, the other not: a personal and a work address
    mixed_email: np.ndarray | None = None
    # term-frequency adjustments (log2) of the record's values, per field, when known
    tf: dict[str, np.ndarray] = field(default_factory=dict)

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
            None if self.mixed_email is None else self.mixed_email[sl],
            {k: v[sl] for k, v in self.tf.items()},
        )  # fmt: skip


def _mean2(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Mean of two similarity arrays, ignoring a missing side (NaN when both are missing)."""
    both = ~np.isnan(a) & ~np.isnan(b)
    return np.where(both, (a + b) / 2, np.fmax(a, b))


def _free(email: str) -> bool:
    return bool(email) and nz.is_free_mail(email.rpartition("@")[2])


def _squeezed(values: Sequence[str]) -> list[str]:
    return [v.replace(" ", "") for v in values]


def _reading(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """How well one reading of two names agrees: its best agreement counts double."""
    a, b = np.nan_to_num(a), np.nan_to_num(b)
    return (np.minimum(a, b) + 2 * np.maximum(a, b)) / 3


def _given_names(
    mine: Sequence[str], theirs: Sequence[str], sims: np.ndarray, surname: np.ndarray,
    look: np.ndarray,
) -> np.ndarray:
    """Given-name similarities raised for nicknames ('Bob' / 'Robert': 1), a nickname with a
    typo ('Platty' / 'Patricia': 0.88, only where the surnames nearly agree: it costs an edit
    distance per form) and initials (0.85). `mine`/`theirs`: the first tokens of the names
    read as given names (crosswise too, for swapped names); `surname`: the other names'
    similarity; `look`: the pairs worth a look (a Python loop: the rest are skipped)."""
    sims = sims.copy()
    todo = np.flatnonzero((sims < 0.999) & look)  # NaN (missing) compares False
    typo_worth = ((sims < 0.88) & (surname >= 0.8))[todo].tolist()
    forms_of = nz.first_name_forms
    for i, worth in zip(todo.tolist(), typo_worth, strict=True):
        head, other = mine[i], theirs[i]
        forms = forms_of(head)
        if other in forms or head in forms_of(other):
            sims[i] = 1.0
        elif (len(head) == 1 or len(other) == 1) and head[0] == other[0]:
            sims[i] = max(sims[i], 0.85)
        elif (
            worth
            and len(other) >= 4
            and process.extractOne(other, forms, scorer=OSA.distance, score_cutoff=1)
        ):
            sims[i] = 0.88
    return sims


def _one_edit(
    left: Sequence[str], right: Sequence[str], sims: np.ndarray, short: np.ndarray
) -> np.ndarray:
    """A single typo (one insertion, deletion, substitution, transposition; a space too) in a
    name counts as a near agreement (0.92) whatever Jaro-Winkler says: 'Tdylor', 'Sal t'.
    `short`: pairs with a name under four letters, where one edit is a different name."""
    if not len(sims):
        return sims
    edits = process.cpdist(
        left, right, scorer=OSA.distance, score_cutoff=1, dtype=np.int32, workers=1
    )
    return np.where((edits <= 1) & ~short, np.fmax(sims, 0.92), sims)


def _lengths(values: Sequence[str]) -> np.ndarray:
    return np.fromiter(map(len, values), np.int64, len(values))


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
    freq: TermFrequency | None = None,
) -> Comparison:
    """Compare one candidate with each record, or aligned candidates with records. `freq`:
    value frequencies of the records' index (term-frequency adjustments of agreements)."""
    cands = [cand] * len(records) if isinstance(cand, Profile) else list(cand)
    comp = Comparison(cands, records)
    n = len(records)
    jw = JaroWinkler.normalized_similarity
    comp.sims["email"] = _pairs(
        [c.email for c in cands], [r.email for r in records], Indel.normalized_similarity
    )
    free = {e: _free(e) for e in {c.email for c in cands} | {r.email for r in records}}
    comp.mixed_email = np.fromiter(
        map(operator.ne, map(free.__getitem__, (c.email for c in cands)),
            map(free.__getitem__, (r.email for r in records))), bool, n,
    )  # fmt: skip
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
    # Streets: word order aside, or with a space lost or added ('pridhamstreet').
    mine, theirs = [c.street for c in cands], [r.street for r in records]
    street = _pairs(mine, theirs, fuzz.token_sort_ratio, 100)
    if not np.isnan(street).all():
        squeezed = _pairs(_squeezed(mine), _squeezed(theirs), Indel.normalized_similarity)
        street = np.fmax(street, squeezed)
    comp.sims["street"] = street
    mine, theirs = [c.address_2 for c in cands], [r.address_2 for r in records]
    if _missing(mine, theirs).all():  # most files have no second address line
        comp.sims["address_2"] = np.full(n, NAN)
    else:
        comp.sims["address_2"] = _pairs(
            _squeezed(mine), _squeezed(theirs), Indel.normalized_similarity
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
        lf1, ll1, lf2, ll2 = _lengths(f1), _lengths(l1), _lengths(f2), _lengths(l2)
        last = _one_edit(l1, l2, _pairs(l1, l2, jw), np.minimum(ll1, ll2) < 4)
        first = _one_edit(f1, f2, _pairs(f1, f2, jw), np.minimum(lf1, lf2) < 4)
        # Nicknames matter where something else agrees: the surname, an email, a phone...
        g1, g2 = [c.given for c in cands], [r.given for r in records]
        first = _given_names(g1, g2, first, last, (last >= 0.7) | support)
        # Swapped first/last names ("Smith John"): compare crosswise, keep the better reading.
        # A reading is judged mostly by its best agreement, so a swap with one name also
        # misspelt or replaced ('Ayres Melanie' / 'Melanie Beaty') is still read crosswise.
        # Crosswise, the candidate's given name is in the record's last-name field.
        cross_last = _one_edit(l1, f2, _pairs(l1, f2, jw), np.minimum(ll1, lf2) < 4)
        cross_first = _one_edit(f1, l2, _pairs(f1, l2, jw), np.minimum(lf1, ll2) < 4)
        heads = {v: first_token(v) for v in set(l2)}
        h2 = list(map(heads.__getitem__, l2))
        cross_first = _given_names(g1, h2, cross_first, cross_last, cross_last >= 0.7)
        direct = _mean2(first, last)
        cross = _mean2(cross_first, cross_last)
        swapped = _reading(cross_first, cross_last) > _reading(first, last) + 0.05
        swapped &= ~np.isnan(cross_first) & ~np.isnan(cross_last)
        comp.swapped = swapped & person
        comp.sims["first_name"] = np.where(comp.swapped, cross_first, first)
        comp.sims["last_name"] = np.where(comp.swapped, cross_last, last)
        name = np.where(comp.swapped, cross - 0.02, direct)
        # Only a last name on one side: a weaker reading of the same evidence.
        name = np.where(np.isnan(first) & ~np.isnan(last), last * 0.9, name)
        if freq is not None:
            # The record's given name and surname, wherever the reading found them.
            given, family = list(g2), list(l2)
            for i in np.flatnonzero(comp.swapped).tolist():
                given[i], family[i] = h2[i], f2[i]
            comp.tf["first_name"] = freq.first.adjustment(given, -2, 4)
            comp.tf["last_name"] = freq.last.adjustment(family, -3, 4)
            # Identifiers are near-unique: only a value many records share (a placeholder)
            # loses weight. Postcodes: rare ones gain a little.
            comp.tf["birthdate"] = freq.birthdate.shared([r.birthdate for r in records], 5, -8)
            comp.tf["national_id"] = freq.national_id.shared(
                [r.national_id for r in records], 5, -8
            )
            comp.tf["postal_code"] = freq.postal_code.adjustment(
                [r.postal_code for r in records], -2, 2
            )
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
