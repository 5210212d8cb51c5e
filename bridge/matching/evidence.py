"""What field similarities weigh as evidence: the overall confidence of a pair.

A Fellegi-Sunter style match probability: each field's comparison falls in a band whose
weight is a log2 Bayes factor, log2(m/u) (m: how often true pairs land in the band, u: how
often unrelated records do; Splink-like bands 0.92 / 0.88 / 0.70 for names), the weights add
up with a prior, and `2**w / (1 + 2**w)` is the probability. Missing values weigh 0. Where the
index's value frequencies are known (`frequency.py`), an agreement on a common value weighs
less and on a rare one more.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from bridge.matching.scoring import Comparison

# log2 prior odds that two records compared after blocking are one entity. The person prior
# was set on the development data (CRM seed 7, FEBRL-like seed 13, public FEBRL1-2): -10
# rejected copies whose names alone were typo'd; -7 started to admit namesakes.
PERSON_PRIOR = -8.0
COMPANY_PRIOR = -8.0

Bands = Sequence[tuple[float, float]]

# Names. A single typo leaves Jaro-Winkler between 0.88 and 0.96 on most names: near
# agreements keep most of the weight of an exact one (Splink's 0.92 / 0.88 levels). A clearly
# different first name (not a typo, nickname, initial or swap) is what tells family members
# apart, who share a surname, an address and a phone.
LAST_NAME: Bands = [(0.99, 6.0), (0.92, 5.0), (0.88, 3.5), (0.70, -2.0)]
LAST_NAME_DIFFERS = -6.0
FIRST_NAME: Bands = [(0.99, 4.0), (0.92, 3.5), (0.88, 2.5), (0.85, 1.0), (0.70, -2.0)]
FIRST_NAME_DIFFERS = -7.0
# Reading names crosswise as well doubles the chances that unrelated names agree.
SWAPPED = -1.0
# People keep a work and a personal address: a work address that differs from a free-mail
# one says little; two different addresses of the same kind say more.
EMAIL_DIFFERS = -1.5
EMAIL_KINDS_DIFFER = -0.5
# Identifiers: unrelated people almost never share a national id, and share a date of birth
# about once in 30,000 pairs (log2 ~ 15); a typo'd date (a digit, day/month swapped) is
# weaker. True copies lose or garble them often, so disagreement weighs less than agreement.
BIRTHDATE: Bands = [(1.0, 9.0), (0.9, 4.0), (0.8, 3.0), (0.4, -2.0)]
BIRTHDATE_DIFFERS = -4.0
NATIONAL_ID: Bands = [(1.0, 13.0), (0.8, 5.0)]
NATIONAL_ID_DIFFERS = -4.0
# An address line beyond the street (a building, estate): absent from most records, and
# often garbled or dropped in copies, so disagreement says nothing.
ADDRESS_2: Bands = [(0.9, 1.0)]
# Where someone lives and their phone are one household's evidence (see person_weights).
PLACE_CAP = 6.0
# ... and with a clearly different given name, a shared household is what a family member
# looks like: it barely says "the same person".
HOUSEHOLD_OTHER_NAME = 4.0


def _bands(sims: np.ndarray, bands: Bands, otherwise: float) -> np.ndarray:
    """Weight of the first band whose cut-off the similarity reaches; NaN (missing) weighs 0."""
    out = np.full(sims.shape, otherwise)
    for cut, weight in reversed(bands):
        out = np.where(sims >= cut - 1e-9, weight, out)
    return np.where(np.isnan(sims), 0.0, out)


def _tf(sims: np.ndarray, adjustment: np.ndarray | None, near: float = 0.92) -> np.ndarray:
    """The term-frequency adjustment where values agree (half of it on a near agreement)."""
    if adjustment is None:
        return np.zeros(sims.shape)
    out = np.where(sims >= 0.99, adjustment, np.where(sims >= near, adjustment / 2, 0.0))
    return np.where(np.isnan(sims), 0.0, out)


def person_weights(comp: Comparison) -> np.ndarray:
    s, tf = comp.sims, comp.tf
    w = _bands(s["last_name"], LAST_NAME, LAST_NAME_DIFFERS)
    w += _tf(s["last_name"], tf.get("last_name"))
    w += _bands(s["first_name"], FIRST_NAME, FIRST_NAME_DIFFERS)
    w += _tf(s["first_name"], tf.get("first_name"))
    if comp.swapped is not None:
        w += np.where(comp.swapped, SWAPPED, 0.0)
    email_differs = np.where(comp.mixed_email, EMAIL_KINDS_DIFFER, EMAIL_DIFFERS)
    w += _bands(s["email"], [(1.0, 11.0), (0.9, 2.0)], 0.0)
    w += np.where(s["email"] < 0.9, email_differs, 0.0)
    w += _bands(s["company"], [(0.99, 5.0), (0.9, 4.0), (0.8, 1.0), (0.6, -1.0)], -3.0)
    w += _bands(s["domain"], [(1.0, 3.0)], -1.0)
    w += _bands(s["birthdate"], BIRTHDATE, BIRTHDATE_DIFFERS)
    w += _tf(s["birthdate"], tf.get("birthdate"), near=1.0)
    w += _bands(s["national_id"], NATIONAL_ID, NATIONAL_ID_DIFFERS)
    w += _tf(s["national_id"], tf.get("national_id"), near=1.0)
    # Where someone lives and their phone are one household's evidence, not independent
    # facts: family members share all of them. Agreement counts once (the stronger, plus a
    # quarter of the other), capped; disagreement adds up.
    place = _bands(s["street"], [(0.95, 4.0), (0.8, 2.0)], -0.5)
    place += _bands(s["postal_code"], [(1.0, 3.0)], -1.0)
    place += _tf(s["postal_code"], tf.get("postal_code"), near=1.0)
    place += _bands(s["city"], [(0.95, 1.0)], -0.5)
    place += _bands(s["state"], [(1.0, 0.5)], -0.5)
    place += _bands(s["address_2"], ADDRESS_2, 0.0)
    place = np.minimum(place, PLACE_CAP)
    phone = _bands(s["phone"], [(1.0, 8.0)], -1.0)
    high, low = np.maximum(phone, place), np.minimum(phone, place)
    household = np.where(low > 0, high + 0.25 * low, phone + place)
    other_person = s["first_name"] < FIRST_NAME[-1][0] - 1e-9  # NaN compares False
    w += np.where(other_person, np.minimum(household, HOUSEHOLD_OTHER_NAME), household)
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
