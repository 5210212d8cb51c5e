"""Matching candidates against a tenant's Salesforce records: the one implementation behind
POST /v1/match and the pipeline's match step."""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from bridge.matching.ai import AiError, AiMatcher, AiNotConfigured
from bridge.matching.engine import Match, match_many
from bridge.matching.evidence import confidence
from bridge.matching.index import MatchIndex
from bridge.matching.profiles import build_profile
from bridge.matching.rules import RuleSet
from bridge.matching.scoring import compare

# Credits per candidate, as documented.
CREDITS_PER_CANDIDATE = {"simple": 1, "grouped": 2, "ai": 5}
AI_SHORTLIST = 8
AI_DEFAULT_THRESHOLD = 0.7
AI_PARALLEL = 8

__all__ = ["AiError", "AiNotConfigured", "CandidateOutcome", "IndexUnavailable", "MatchService"]


class IndexUnavailable(Exception):
    """The tenant has no match index (no connected org, or it was never built)."""


@dataclass
class CandidateOutcome:
    matches: list[Match] = field(default_factory=list)


class MatchService:
    def __init__(
        self,
        get_index: Callable[[int], MatchIndex | None],
        *,
        build_index: Callable[[int], bool] | None = None,
        ai: Callable[[], AiMatcher] | None = None,
        region: str = "US",
    ) -> None:
        """`get_index` reads the tenant's current index (an `IndexRegistry.get`);
        `build_index` builds a missing one (False: the tenant has no connected org);
        `ai` makes the AI client (raises `AiNotConfigured` when there is none)."""
        self._get_index = get_index
        self._build_index = build_index
        self._ai = ai
        self.region = region
        self._build_lock = threading.Lock()

    def index_for(self, tenant_id: int) -> MatchIndex:
        index = self._get_index(tenant_id)
        if index is not None:
            return index
        if self._build_index is None:
            raise IndexUnavailable("the match index for this tenant has not been built")
        with self._build_lock:
            index = self._get_index(tenant_id)
            if index is None and self._build_index(tenant_id):
                index = self._get_index(tenant_id)
        if index is None:
            raise IndexUnavailable("no Salesforce org is connected to this tenant")
        return index

    def ai_client(self) -> AiMatcher:
        if self._ai is None:
            raise AiNotConfigured("AI matching is not configured")
        return self._ai()

    def match(
        self,
        tenant_id: int,
        sobject: str,
        candidates: Sequence[Mapping[str, Any]],
        rules: RuleSet,
    ) -> list[CandidateOutcome]:
        index = self.index_for(tenant_id)
        return self.match_in(index, sobject, candidates, rules)

    def match_in(
        self,
        index: MatchIndex,
        sobject: str,
        candidates: Sequence[Mapping[str, Any]],
        rules: RuleSet,
    ) -> list[CandidateOutcome]:
        obj = sobject.lower()
        profiles = [
            build_profile(
                c, obj, record_id=str(c.get("Id") or c.get("id") or ""), region=self.region
            )
            for c in candidates
        ]
        if rules.mode == "ai":
            return self._match_ai(index, obj, profiles, rules)
        records = index.objects[obj]

        def stats(rid: str) -> Any:
            return index.stats(obj, rid)

        blocks = [records.block(p) for p in profiles]
        return [
            CandidateOutcome(m)
            for m in match_many(profiles, blocks, rules, stats=stats, freq=records.freq)
        ]

    def _match_ai(
        self, index: MatchIndex, obj: str, profiles: Sequence[Any], rules: RuleSet
    ) -> list[CandidateOutcome]:
        client = self.ai_client()
        threshold = AI_DEFAULT_THRESHOLD if rules.threshold is None else rules.threshold

        def one(profile: Any) -> CandidateOutcome:
            block = [r for r in index.objects[obj].block(profile) if r.id != profile.id]
            if not block:
                return CandidateOutcome()
            conf = confidence(compare(profile, block, index.objects[obj].freq))
            top = np.argsort(-conf, kind="stable")[:AI_SHORTLIST]
            shortlist = [block[i] for i in top]
            verdicts = client.judge(obj, profile, shortlist, rules.instructions)
            by_conf = {block[i].id: float(conf[i]) for i in top}
            hits = [v for v in verdicts if v.score >= threshold]
            hits.sort(key=lambda v: (-round(v.score, 2), -by_conf.get(v.id, 0.0), v.id))
            return CandidateOutcome([
                Match(
                    id=v.id, object=obj, score=round(v.score, 4), confidence=round(v.score, 4),
                    rules_fired=("ai",),
                    explanation=f"{obj.capitalize()} {v.id} judged the same by the AI model "
                    f"with score {v.score:.2f}: {v.explanation}",
                )
                for v in hits[: rules.max_matches]
            ])  # fmt: skip

        with ThreadPoolExecutor(max_workers=min(AI_PARALLEL, max(1, len(profiles)))) as pool:
            return list(pool.map(one, profiles))
