"""Matching candidates against records under a rule set: block, compare, decide, order.

Pure computation over an index (no I/O), used by the API, the pipeline step and the CLI.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from bridge.matching import tiebreak
from bridge.matching.evidence import confidence
from bridge.matching.explain import explain
from bridge.matching.frequency import TermFrequency
from bridge.matching.index import ObjectIndex
from bridge.matching.profiles import Profile
from bridge.matching.rules import Rule, RuleSet
from bridge.matching.scoring import Comparison, compare
from bridge.matching.tiebreak import RecordStats

EQ = 1.0 - 1e-6


@dataclass(frozen=True)
class Match:
    id: str
    object: str
    score: float  # mean similarity of the fields whose rules fired
    confidence: float  # overall match probability from all fields
    rules_fired: tuple[str, ...]
    explanation: str


def rule_fires(rule: Rule, comp: Comparison) -> tuple[np.ndarray, np.ndarray]:
    """(fired, similarity) per record for one rule."""
    n = len(comp.records)
    pairs = zip(comp.candidates, comp.records, strict=True)
    name = rule.field
    if rule.kind == "exact" and name not in ("domain", "name_company", "website"):
        fired = np.fromiter(
            (bool(c.exact.get(name)) and r.exact.get(name, "") == c.exact[name] for c, r in pairs),
            bool,
            n,
        )
        return fired, fired.astype(float)
    if rule.kind == "contains":
        fired = np.fromiter(
            (len(v := c.value(name)) >= 2 and v in r.value(name) for c, r in pairs), bool, n
        )
        return fired, fired.astype(float)
    sims = comp.sim(rule.field) if n else np.zeros(0)
    cut = EQ if rule.kind in ("eq", "exact") else rule.threshold - 1e-9
    clean = np.where(np.isnan(sims), 0.0, sims)
    return clean >= cut, clean


class _FiredNames:
    """Rule names that fired for pair i, built only for the pairs asked about (the matches),
    not for every pair compared."""

    def __init__(self, names: list[str], fired: list[np.ndarray]) -> None:
        self.names = names
        self.fired = fired

    def __getitem__(self, i: int) -> list[str]:
        return [name for name, f in zip(self.names, self.fired, strict=True) if f[i]]


@dataclass
class Decision:
    ok: np.ndarray  # matched, per record
    confidence: np.ndarray
    fired: _FiredNames  # rule names that fired, per record (fired[i])
    scores: np.ndarray  # mean similarity of the fired rules, per record


def decide(rules: RuleSet, comp: Comparison) -> Decision:
    """Which records match, their overall confidence and the rules that fired for each."""
    n = len(comp.records)
    conf = confidence(comp) if n else np.zeros(0)
    fired_by_rule = {rule: rule_fires(rule, comp) for rule in rules.rules}
    group_ok = [
        np.logical_and.reduce([fired_by_rule[r][0] for r in group]) for group in rules.groups
    ]
    if group_ok:
        ok = np.logical_or.reduce(group_ok) if rules.any else np.logical_and.reduce(group_ok)
    else:
        ok = np.ones(n, dtype=bool)
    if rules.threshold is not None:
        ok &= conf >= rules.threshold - 1e-9
    names = _FiredNames([str(r) for r in fired_by_rule], [f for f, _ in fired_by_rule.values()])
    if fired_by_rule:
        fired = np.vstack([f for f, _ in fired_by_rule.values()])
        sims = np.vstack([v for _, v in fired_by_rule.values()])
        counts = fired.sum(axis=0)
        scores = np.where(counts > 0, (sims * fired).sum(axis=0) / np.maximum(counts, 1), conf)
    else:
        scores = conf
    return Decision(ok, conf, names, scores)


def match_many(
    candidates: Sequence[Profile],
    blocks: Sequence[Sequence[Profile]],
    rules: RuleSet,
    *,
    stats: Callable[[str], RecordStats] = lambda _id: RecordStats(),
    explain_matches: bool = True,
    freq: TermFrequency | None = None,
) -> list[list[Match]]:
    """Each candidate against its block; all pairs compared in one vectorised pass. A record
    with the candidate's own id is skipped (a record never matches itself). `freq`: the value
    frequencies of the index the blocks come from (term-frequency adjustments)."""
    cands: list[Profile] = []
    recs: list[Profile] = []
    offsets = [0]
    for cand, block in zip(candidates, blocks, strict=True):
        for record in block:
            if not (cand.id and record.id == cand.id):
                cands.append(cand)
                recs.append(record)
        offsets.append(len(recs))
    if not recs:
        return [[] for _ in candidates]
    comp = compare(cands, recs, freq)
    decision = decide(rules, comp)
    results = []
    for k in range(len(candidates)):
        start, stop = offsets[k], offsets[k + 1]
        hits = [i for i in range(start, stop) if decision.ok[i]]
        ordered = tiebreak.order(
            hits,
            confidence=lambda i: float(decision.confidence[i]),
            record_id=lambda i: recs[i].id,
            stats=stats,
            tiebreakers=rules.tiebreakers,
        )[: rules.max_matches]
        results.append([
            Match(
                id=recs[i].id,
                object=recs[i].object,
                score=round(float(decision.scores[i]), 4),
                confidence=round(float(decision.confidence[i]), 4),
                rules_fired=tuple(decision.fired[i]),
                explanation=explain(comp, i, float(decision.confidence[i]), decision.fired[i])
                if explain_matches
                else "",
            )
            for i in ordered
        ])  # fmt: skip
    return results


def match_profile(
    candidate: Profile,
    records: Sequence[Profile],
    rules: RuleSet,
    *,
    stats: Callable[[str], RecordStats] = lambda _id: RecordStats(),
    explain_matches: bool = True,
    freq: TermFrequency | None = None,
) -> list[Match]:
    return match_many(
        [candidate], [records], rules, stats=stats, explain_matches=explain_matches, freq=freq
    )[0]


def match_in_index(
    candidate: Profile,
    index: ObjectIndex,
    rules: RuleSet,
    *,
    stats: Callable[[str], RecordStats] = lambda _id: RecordStats(),
    explain_matches: bool = True,
) -> list[Match]:
    return match_profile(
        candidate, index.block(candidate), rules, stats=stats, explain_matches=explain_matches,
        freq=index.freq,
    )  # fmt: skip
