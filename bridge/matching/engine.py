"""Matching candidates against records under a rule set: block, compare, decide, order.

Pure computation over an index (no I/O), used by the API, the pipeline step and the CLI.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from bridge.matching import tiebreak
from bridge.matching.explain import explain
from bridge.matching.index import ObjectIndex
from bridge.matching.profiles import Profile
from bridge.matching.rules import Rule, RuleSet
from bridge.matching.scoring import Comparison, compare, confidence
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
    cand = comp.candidate
    if rule.kind == "exact" and rule.field not in ("domain", "name_company", "website"):
        mine = cand.exact.get(rule.field, "")
        fired = np.array(
            [bool(mine) and r.exact.get(rule.field, "") == mine for r in comp.records], dtype=bool
        )
        return fired, fired.astype(float)
    if rule.kind == "contains":
        mine = cand.value(rule.field)
        fired = np.array(
            [bool(mine) and len(mine) >= 2 and mine in r.value(rule.field) for r in comp.records],
            dtype=bool,
        )
        return fired, fired.astype(float)
    sims = comp.sim(rule.field) if n else np.zeros(0)
    cut = EQ if rule.kind in ("eq", "exact") else rule.threshold - 1e-9
    fired = np.nan_to_num(sims, nan=0.0) >= cut
    return fired, np.nan_to_num(sims, nan=0.0)


@dataclass
class Decision:
    ok: np.ndarray  # matched, per record
    confidence: np.ndarray
    fired: list[list[str]]  # rule names that fired, per record
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
    names = [[str(r) for r, (f, _) in fired_by_rule.items() if f[i]] for i in range(n)]
    if fired_by_rule:
        fired = np.vstack([f for f, _ in fired_by_rule.values()])
        sims = np.vstack([v for _, v in fired_by_rule.values()])
        counts = fired.sum(axis=0)
        scores = np.where(counts > 0, (sims * fired).sum(axis=0) / np.maximum(counts, 1), conf)
    else:
        scores = conf
    return Decision(ok, conf, names, scores)


def match_profile(
    candidate: Profile,
    records: Sequence[Profile],
    rules: RuleSet,
    *,
    stats: Callable[[str], RecordStats] = lambda _id: RecordStats(),
    exclude_id: str | None = None,
    explain_matches: bool = True,
) -> list[Match]:
    if exclude_id:
        records = [r for r in records if r.id != exclude_id]
    if not records:
        return []
    comp = compare(candidate, records)
    decision = decide(rules, comp)
    conf, fired = decision.confidence, decision.fired
    hits = np.flatnonzero(decision.ok)
    ordered = tiebreak.order(
        hits.tolist(),
        confidence=lambda i: float(conf[i]),
        record_id=lambda i: records[i].id,
        stats=stats,
        tiebreakers=rules.tiebreakers,
    )[: rules.max_matches]
    matches = []
    for i in ordered:
        score = float(decision.scores[i])
        matches.append(
            Match(
                id=records[i].id,
                object=records[i].object,
                score=round(score, 4),
                confidence=round(float(conf[i]), 4),
                rules_fired=tuple(fired[i]),
                explanation=explain(comp, i, float(conf[i]), fired[i]) if explain_matches else "",
            )
        )
    return matches


def match_in_index(
    candidate: Profile,
    index: ObjectIndex,
    rules: RuleSet,
    *,
    stats: Callable[[str], RecordStats] = lambda _id: RecordStats(),
    exclude_id: str | None = None,
    explain_matches: bool = True,
) -> list[Match]:
    return match_profile(
        candidate, index.block(candidate), rules, stats=stats, exclude_id=exclude_id,
        explain_matches=explain_matches,
    )  # fmt: skip
