"""Sending a change plan: one sObject Collections update per 200 records, per-record outcomes.

Row locks are retried record by record inside the gateway; a lock that outlives those retries
comes back here as `transient` (the caller retries the batch later), any other refusal as
`permanent` (recorded, never retried automatically). A failure of the whole call (the org out
of API calls, Salesforce down past its retries) propagates: nothing is known to be written.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from bridge.salesforce.collections import RecordResult
from bridge.writeback.changes import RecordChange


class RecordWriter(Protocol):
    def update(self, sobject: str, records: Sequence[dict[str, Any]]) -> list[RecordResult]: ...


@dataclass
class WriteOutcome:
    written: list[RecordChange] = field(default_factory=list)
    transient: list[tuple[RecordChange, str]] = field(default_factory=list)
    permanent: list[tuple[RecordChange, str]] = field(default_factory=list)


def describe_errors(result: RecordResult) -> str:
    parts = []
    for error in result.errors:
        where = f" [{', '.join(error.fields)}]" if error.fields else ""
        parts.append(f"{error.status_code}: {error.message}{where}")
    return "; ".join(parts) or "refused without an error"


def write(writer: RecordWriter, sobject: str, changes: Sequence[RecordChange]) -> WriteOutcome:
    outcome = WriteOutcome()
    if not changes:
        return outcome  # nothing changes: no call at all
    payload = [{"Id": c.record_id, **c.fields} for c in changes]
    results = writer.update(sobject, payload)
    for change, result in zip(changes, results, strict=True):
        if result.success:
            outcome.written.append(change)
        elif result.is_lock_failure:
            outcome.transient.append((change, describe_errors(result)))
        else:
            outcome.permanent.append((change, describe_errors(result)))
    return outcome
