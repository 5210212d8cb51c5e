"""Term frequencies of person fields in an index: Splink's term-frequency adjustment.

Two records agreeing on a rare surname is strong evidence they are one person; agreeing on
"Smith" is weak. For an agreement on value v the Bayes factor gains `u_avg / u_v`, where
u_v is v's share of the index's records and u_avg the chance that two random records agree
(the sum of squared shares): common values lose weight, rare ones gain. Postcodes too; for
dates of birth and ids only a value shared by many records (a placeholder date, '19000101')
loses weight. Counts are kept incrementally as records enter and leave the index.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence

import numpy as np

from bridge.matching.profiles import Profile

# Below this many values the shares say little: no adjustment.
MIN_NAMES = 200


class _Counts:
    def __init__(self) -> None:
        self.counts: Counter[str] = Counter()
        self.total = 0
        self.sum_sq = 0  # sum of count**2, for u_avg

    def add(self, value: str, sign: int) -> None:
        if not value:
            return
        c = self.counts[value]
        if sign > 0:
            self.sum_sq += 2 * c + 1
            self.counts[value] = c + 1
        else:
            if c <= 0:
                return
            self.sum_sq -= 2 * c - 1
            if c == 1:
                del self.counts[value]
            else:
                self.counts[value] = c - 1
        self.total += sign

    def adjustment(self, values: Sequence[str], low: float, high: float) -> np.ndarray:
        """log2(u_avg / u_v) per value, clipped to [low, high]; 0 without enough data."""
        if self.total < MIN_NAMES:
            return np.zeros(len(values))
        u_avg = self.sum_sq / (self.total * self.total)
        unique = list(dict.fromkeys(values))  # blocks repeat records: look each name up once
        counts = np.fromiter((max(self.counts.get(v, 0), 1) for v in unique), float, len(unique))
        adjust = dict(
            zip(unique, np.clip(np.log2(u_avg * self.total / counts), low, high), strict=True)
        )
        return np.fromiter(map(adjust.__getitem__, values), float, len(values))


    def shared(self, values: Sequence[str], allow: int, low: float) -> np.ndarray:
        """log2(allow / count) per value, clipped to [low, 0]: only a value more records share
        than one person's duplicates would (a placeholder date, a dummy id) loses weight.
        Not the u_avg ratio: on near-unique identifiers that would count a file's own
        duplicates against them."""
        unique = list(dict.fromkeys(values))
        counts = np.fromiter((max(self.counts.get(v, 0), 1) for v in unique), float, len(unique))
        adjust = dict(zip(unique, np.clip(np.log2(allow / counts), low, 0.0), strict=True))
        return np.fromiter(map(adjust.__getitem__, values), float, len(values))


def first_token(name: str) -> str:
    return name.split()[0] if name else ""


class TermFrequency:
    """Value counts of one index's person records: first name (first token), last name, date
    of birth, national id and postcode."""

    def __init__(self) -> None:
        self.first = _Counts()
        self.last = _Counts()
        self.birthdate = _Counts()
        self.national_id = _Counts()
        self.postal_code = _Counts()

    def update(self, profile: Profile, sign: int) -> None:
        if profile.person:
            self.first.add(first_token(profile.first), sign)
            self.last.add(profile.last, sign)
            self.birthdate.add(profile.birthdate, sign)
            self.national_id.add(profile.national_id, sign)
            self.postal_code.add(profile.postal_code, sign)
