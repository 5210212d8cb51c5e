"""Proposals from steps, and the per-record change plan that write-back sends."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from bridge.writeback.policy import FieldMapping, should_write


@dataclass(frozen=True)
class Proposal:
    """A step's wish for one enriched field of one record."""

    name: str
    value: Any
    provider: str
    confidence: float | None = None
    action: str = "enrich"


@dataclass
class RecordChange:
    """What will be written to one record: Salesforce fields, and the diff for the route log."""

    record_id: str
    fields: dict[str, Any] = field(default_factory=dict)
    # action -> {Salesforce field: {"old", "new", "provider", "confidence"}}
    diffs: dict[str, dict[str, dict[str, Any]]] = field(default_factory=dict)


class Proposals:
    def __init__(self) -> None:
        self.by_record: dict[str, dict[str, Proposal]] = {}

    def add(self, record_id: str, proposal: Proposal) -> None:
        self.by_record.setdefault(record_id, {})[proposal.name] = proposal

    def for_record(self, record_id: str) -> dict[str, Proposal]:
        return self.by_record.get(record_id, {})


def plan(
    records: Iterable[Mapping[str, Any]],
    proposals: Proposals,
    mapping: Mapping[str, FieldMapping],
) -> list[RecordChange]:
    """Only fields whose value really changes, under each field's policy; unmapped names and
    records with nothing to change are left out (so a batch with no changes writes nothing)."""
    changes = []
    for record in records:
        change = RecordChange(record["Id"])
        for name, proposal in proposals.for_record(record["Id"]).items():
            target = mapping.get(name)
            if target is None:
                continue
            current = record.get(target.field)
            if not should_write(target, current, proposal.value):
                continue
            change.fields[target.field] = proposal.value
            change.diffs.setdefault(proposal.action, {})[target.field] = {
                "old": current,
                "new": proposal.value,
                "provider": proposal.provider,
                "confidence": proposal.confidence,  # None when the step gives none
            }
        if change.fields:
            changes.append(change)
    return changes
