"""The pipeline's `match` step: lead to account, and contact/lead duplicates.

For every batch of Accounts, Contacts or Leads it first puts the fetched records into the
tenant's match index (the pipeline sees every change, so the index stays current between
polls). Then, per selected record:
  - Lead -> Account (`lead_to_account`): the best account is proposed for write-back as
    `matched_account_id` (and its confidence x 100 as `match_score`);
  - duplicates (`duplicates`, Contact or Lead): the best other record of the same object is
    proposed as `duplicate_of` (and `is_duplicate` = true).
The write-back mapping of the object (config/pipeline.yaml) says which Salesforce fields those
go to, e.g. `matched_account_id: {field: Matched_Account__c, policy: overwrite}`. Every decision
is also a `match` route log with its plain-language explanation. The tie-breakers are the
same as the API's (rules option `tiebreakers`).

Construction (bridge.pipeline_config registry, `"match": "bridge.matching.step:build_step"`):

    - name: match
      options:
        lead_to_account: {rules: "(domain:eq & name:fuzzy0.8) | name:eq"}   # default rules
        duplicates: {rules: "email:eq | (name:fuzzy0.9 & phone:eq)"}         # or false
        index: true          # keep the index current from this step's batches (default)
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import structlog

from bridge.matching.engine import Match
from bridge.matching.loader import INDEX_FIELDS
from bridge.matching.rules import RuleSet, default_rules, parse_rules
from bridge.matching.service import IndexUnavailable, MatchService
from bridge.matching.store import IndexStore

log = structlog.get_logger(__name__)
PROVIDER = "matching"


class MatchStep:
    name = "match"

    def __init__(
        self,
        service: MatchService,
        store: IndexStore | None,
        db: Any,
        *,
        lead_to_account: RuleSet | None,
        duplicates: RuleSet | None,
    ) -> None:
        self.service = service
        self.store = store
        self.db = db
        self.lead_to_account = lead_to_account
        self.duplicates = duplicates

    def fields(self, sobject: str) -> set[str]:
        return set(INDEX_FIELDS.get(sobject, ()))

    def run(self, context: Any) -> None:
        sobject: str = context.object
        records: list[Mapping[str, Any]] = context.records
        if self.store is not None and sobject in INDEX_FIELDS:
            fields = INDEX_FIELDS[sobject]
            trimmed = [_trim(r, fields) for r in records]
            self.store.upsert(context.tenant_id, sobject, [r for r in trimmed if _live(r)])
            self.store.remove(
                context.tenant_id, sobject, [r["Id"] for r in trimmed if not _live(r)]
            )
        tasks: list[tuple[str, RuleSet]] = []
        if sobject == "Lead" and self.lead_to_account is not None:
            tasks.append(("account", self.lead_to_account))
        if sobject in ("Lead", "Contact") and self.duplicates is not None:
            tasks.append((sobject.lower(), self.duplicates))
        if not tasks or not records:
            return
        try:
            index = self.service.index_for(context.tenant_id)
        except IndexUnavailable as exc:
            log.warning("match.skipped", reason=str(exc), object=sobject)
            return
        decisions: list[tuple[str, str, Match | None]] = []
        for target, rules in tasks:
            outcomes = self.service.match_in(index, target, records, rules)
            for record, outcome in zip(records, outcomes, strict=True):
                best = outcome.matches[0] if outcome.matches else None
                decisions.append((record["Id"], target, best))
                if best is not None:
                    self._propose(context, record["Id"], sobject, target, best)
        self._log(context, sobject, decisions)

    def _propose(
        self, context: Any, record_id: str, sobject: str, target: str, best: Match
    ) -> None:
        if target == "account" and sobject == "Lead":
            context.propose(record_id, "matched_account_id", best.id, provider=PROVIDER,
                            confidence=best.confidence, action="match")  # fmt: skip
            score = round(best.confidence * 100, 1)
            context.propose(record_id, "match_score", score, provider=PROVIDER,
                            confidence=best.confidence, action="match")  # fmt: skip
        else:
            context.propose(record_id, "duplicate_of", best.id, provider=PROVIDER,
                            confidence=best.confidence, action="match")  # fmt: skip
            context.propose(record_id, "is_duplicate", True, provider=PROVIDER,
                            confidence=best.confidence, action="match")  # fmt: skip
        facts = context.facts.setdefault(record_id, {})
        facts.setdefault("match", {})[target] = best

    def _log(
        self, context: Any, sobject: str, decisions: list[tuple[str, str, Match | None]]
    ) -> None:
        if self.db is None or not decisions:
            return
        from bridge.logs.service import record_action

        with self.db.session() as session:
            for record_id, target, best in decisions:
                kind = "account" if target == "account" and sobject == "Lead" else "duplicate"
                if best is None:
                    reason = f"no {kind} match"
                    diff = None
                else:
                    reason = best.explanation[:1000]
                    diff = {"kind": kind, "match_id": best.id, "confidence": best.confidence,
                            "score": best.score, "rules_fired": list(best.rules_fired)}  # fmt: skip
                record_action(session, tenant_id=context.tenant_id, object=sobject,
                              object_id=record_id, action="match", reason=reason,
                              diff=diff)  # fmt: skip


def _trim(record: Mapping[str, Any], fields: tuple[str, ...]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for name in (*fields, "IsDeleted"):
        head = name.split(".")[0]
        if head in record:
            out[head] = record[head]
    return out


def _live(record: Mapping[str, Any]) -> bool:
    return not record.get("IsDeleted") and not record.get("IsConverted")


def _rules_option(value: Any, sobject: str) -> RuleSet | None:
    if value is False:
        return None
    if value is None or value is True:
        return default_rules(sobject)
    if isinstance(value, Mapping):
        return parse_rules(value.get("rules"), default=default_rules(sobject))
    return parse_rules(value, default=default_rules(sobject))


def build_step(options: Mapping[str, Any], deps: Any) -> MatchStep:
    """The registry's builder: one MatchService per process (deps.shared["matching"])."""
    from bridge.matching.factory import build_service

    shared = deps.shared.get("matching")
    if shared is None:
        gateway = (lambda: deps.gateway) if deps.gateway is not None else None
        shared = build_service(deps.settings, deps.redis, deps.db, gateway)
        deps.shared["matching"] = shared
    service, store = shared
    sobject = str(options.get("object", "Lead"))
    return MatchStep(
        service,
        store if options.get("index", True) else None,
        deps.db,
        lead_to_account=_rules_option(options.get("lead_to_account"), "account")
        if sobject == "Lead"
        else None,
        duplicates=_rules_option(options.get("duplicates"), sobject.lower())
        if sobject in ("Lead", "Contact")
        else None,
    )
