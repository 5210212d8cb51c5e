"""Assigning a pipeline batch: picks in one Redis round trip, owners written through sObject
Collections (one call per 200), Salesforce's refusals of inactive owners re-picked, and every
record's route log (assign, skip or error) in one transaction at the end. Each assign log has
its own savepoint: one that a concurrent request logged first (the one-assign-per-sequence
index) is answered as cached and never rolls back the other records' logs."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import replace
from typing import TYPE_CHECKING, Any, Protocol

from bridge.logs.service import record_action
from bridge.routing.errors import AssignmentNotLogged, NoMemberAvailable
from bridge.routing.outcomes import BatchAssignments, Pick, assignment
from bridge.salesforce.collections import RecordError, RecordResult
from bridge.salesforce.errors import SalesforceError

if TYPE_CHECKING:
    from bridge.routing.service import RoutingService

INACTIVE_OWNER = "INACTIVE_OWNER_OR_USER"
MAX_REFUSALS = 3  # re-picks after Salesforce refused an inactive owner


class HasErrors(Protocol):
    """A Salesforce per-record result: sObject Collections' or convertLead's."""

    @property
    def errors(self) -> Sequence[RecordError]: ...


def codes(result: HasErrors) -> list[str]:
    return [e.status_code for e in result.errors]


def refusal_reason(user_id: str, role: str | None = None) -> str:
    """The reason of the `skip` route log of an owner Salesforce refused as inactive."""
    refused = f"{user_id} as {role}" if role else user_id
    return f"{INACTIVE_OWNER}: Salesforce refused {refused}; re-picked"


class BatchAssigner:
    def __init__(
        self,
        service: RoutingService,
        tenant_id: int,
        sobject: str,
        pool: str,
        records: Sequence[Mapping[str, Any]],
        exclude_inactive: bool,
        request_ids: Mapping[str, str],
    ) -> None:
        self.service = service
        self.tenant_id = tenant_id
        self.sobject = sobject
        self.pool = pool
        self.exclude_inactive = exclude_inactive
        self.request_ids = request_ids
        self.prev = {r["Id"]: r.get("OwnerId") for r in records}
        self.refused: set[str] = set()
        self.logs: list[tuple[Pick, str, str | None]] = []  # pick, action, reason
        self.outcome = BatchAssignments()

    def run(self) -> BatchAssignments:
        service = self.service
        pending = list(self.prev)
        for round_no in range(MAX_REFUSALS + 1):
            picks = service.pick_many(
                self.tenant_id, self.pool, pending, exclude_inactive=self.exclude_inactive,
                replace=round_no > 0, refused=self.refused,
            )  # fmt: skip
            ready = [p for p in picks if isinstance(p, Pick) and p.cached]
            done = service.logged(self.tenant_id, self.sobject, self.pool, ready)
            writes: list[Pick] = []
            for rid, pick in zip(pending, picks, strict=True):
                if isinstance(pick, NoMemberAvailable):
                    self.outcome.unassigned[rid] = pick.reason
                    reason = f"no member available: {pick.reason} {pick.skipped}"
                    nobody = Pick(self.pool, rid, "", 0, service.clock(), 0, False)
                    self.logs.append((nobody, "skip", reason))
                elif pick.record_id in done:
                    self.outcome.cached.append(assignment(self.sobject, pick, self.prev[rid]))
                elif self.prev[rid] == pick.assigned_to:
                    self.logs.append((pick, "assign", "round_robin"))
                else:
                    writes.append(pick)
            try:
                results = service.write_owners(self.sobject, writes)
            except SalesforceError as exc:
                # Stopped part-way (budget, limit, retries used up): log what did happen.
                self.settle(writes[: len(exc.completed)], exc.completed)
                self.write_logs()
                raise
            pending = self.settle(writes, results)
            if not pending:
                break
        for rid in pending:
            self.outcome.unassigned[rid] = "nobody"
        self.write_logs()
        return self.outcome

    def settle(self, writes: Sequence[Pick], results: Sequence[RecordResult]) -> list[str]:
        """Route-log outcomes of owner writes; returns the record ids to pick again."""
        again = []
        for pick, result in zip(writes, results, strict=True):
            if result.success:
                self.logs.append((pick, "assign", "round_robin"))
            elif INACTIVE_OWNER in codes(result):
                self.service.refused_owner(pick.assigned_to)
                self.refused.add(pick.assigned_to)
                self.logs.append((pick, "skip", refusal_reason(pick.assigned_to)))
                again.append(pick.record_id)
            else:
                self.outcome.failed[pick.record_id] = f"OwnerId refused ({','.join(codes(result))})"
                self.logs.append((pick, "error", "; ".join(e.message for e in result.errors)))
        return again

    def write_logs(self) -> None:
        if not self.logs:
            return
        with self.service.db.session() as session:
            for pick, action, reason in self.logs:
                prev = self.prev[pick.record_id]
                request_id = self.request_ids.get(pick.record_id)
                if not pick.assigned_to:  # nobody was available: nothing was picked
                    record_action(
                        session, tenant_id=self.tenant_id, object=self.sobject,
                        object_id=pick.record_id, action="skip", pool=pick.pool,
                        prev_owner=prev, reason=reason, request_id=request_id,
                    )  # fmt: skip
                    continue
                if action != "assign":
                    self.service.record(
                        session, self.tenant_id, self.sobject, pick, prev_owner=prev,
                        reason=reason, request_id=request_id, action=action,
                    )  # fmt: skip
                    continue
                try:
                    twin = self.service.record_assign(
                        session, self.tenant_id, self.sobject, pick, prev_owner=prev,
                        reason=reason, request_id=request_id,
                    )  # fmt: skip
                except AssignmentNotLogged as exc:  # the owner is written, the log is not
                    self.outcome.failed[pick.record_id] = f"route log refused ({exc.reason})"
                    continue
                if twin is None:
                    self.outcome.assigned.append(assignment(self.sobject, pick, prev))
                else:  # a concurrent assign logged this replayed pick after logged() ran
                    done = assignment(self.sobject, replace(pick, cached=True), prev)
                    self.outcome.cached.append(done)
        self.logs = []
