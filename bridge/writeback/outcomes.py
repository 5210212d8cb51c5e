"""Recording what write-back did: a route log per record and action (with the field diff, the
request id that started it and the trigger or poll it came from), and for refused records an
`error` route log plus a dead letter an operator can replay. One transaction for the batch."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from bridge.db import Database
from bridge.deadletters import service as deadletters
from bridge.logs.service import record_action
from bridge.writeback.changes import RecordChange

# Replaying a dead letter re-runs the batch task for the refused record, past the
# processed-version check (`force`), once the cause is fixed.
REPLAY_TASK = "triggers.process_batch"


@dataclass(frozen=True)
class Origin:
    """Where a record's work came from: the request id and the trigger or poll."""

    request_id: str | None
    reason: str
    item: Sequence[str]  # the batch item, for a replay payload


@dataclass(frozen=True)
class Failure:
    record_id: str
    error: str
    diff: Mapping[str, Any] | None = None


def record_outcomes(
    db: Database,
    *,
    tenant_id: int,
    sobject: str,
    written: Sequence[RecordChange],
    failed: Sequence[Failure],
    origins: Mapping[str, Origin],
    attempts: int = 1,
) -> None:
    if not written and not failed:
        return
    with db.session() as session:
        for change in written:
            origin = origins.get(change.record_id)
            for action, diff in change.diffs.items():
                record_action(
                    session, tenant_id=tenant_id, object=sobject, object_id=change.record_id,
                    action=action, diff=diff, reason=origin.reason if origin else None,
                    request_id=origin.request_id if origin else None,
                )  # fmt: skip
        for failure in failed:
            origin = origins.get(failure.record_id)
            attempted = dict(failure.diff or {})
            record_action(
                session, tenant_id=tenant_id, object=sobject, object_id=failure.record_id,
                action="error", diff={"error": failure.error, "attempted": attempted},
                reason=origin.reason if origin else None,
                request_id=origin.request_id if origin else None,
            )  # fmt: skip
            payload = {
                "tenant_id": tenant_id,
                "object": sobject,
                "items": [list(origin.item) if origin else [failure.record_id, "", "", ""]],
                "force": True,
            }
            deadletters.record(
                session, task_name=REPLAY_TASK, task_id=None, args=[payload], kwargs={},
                error=failure.error, attempts=attempts, tenant_id=tenant_id,
                request_id=origin.request_id if origin else None,
            )  # fmt: skip
