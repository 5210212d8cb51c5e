"""What can go wrong when assigning, in the words of the API."""

from __future__ import annotations

from typing import Any


class RoutingError(Exception):
    pass


class NoMemberAvailable(RoutingError):
    """Nobody in the pool can take the record now; `reason` says why, `skipped` who was out.

    reason: paused (pool paused), empty (no members), nobody (every member inactive, away,
    outside working hours or capped), pool_capped (the pool's own cap), top_unavailable (the
    member asked for by `place_user_at_top` cannot take it).
    """

    MESSAGES = {
        "paused": "Pool is paused",
        "empty": "Pool has no members",
        "nobody": "No member of the pool is available",
        "pool_capped": "Pool has reached its cap",
        "top_unavailable": "The user asked for by place_user_at_top is not available",
    }

    def __init__(self, pool: str, reason: str, skipped: dict[str, int] | None = None) -> None:
        super().__init__(self.MESSAGES.get(reason, reason))
        self.pool = pool
        self.reason = reason
        self.skipped = dict(skipped or {})

    def details(self) -> dict[str, Any]:
        return {"pool": self.pool, "reason": self.reason, "skipped": self.skipped}


class NotAMember(RoutingError):
    def __init__(self, pool: str, user_id: str) -> None:
        super().__init__(f"user {user_id} is not a member of pool {pool!r}")
        self.pool = pool
        self.user_id = user_id


class IdempotencyKeyReused(RoutingError):
    """The Idempotency-Key already took a pick for another record of the pool: replaying
    that record's owner and sequence for this one would be wrong."""

    def __init__(self, pool: str, record_id: str) -> None:
        super().__init__("Idempotency-Key was already used for another record in this pool")
        self.pool = pool
        self.record_id = record_id


class AssignmentNotLogged(RoutingError):
    """The assignment's route log was refused and is not this record's pick logged by a
    concurrent request: `sequence_taken` (the pool sequence is logged for another record, e.g.
    rotation state restored behind the logs) or `log_refused` (another constraint)."""

    MESSAGES = {
        "sequence_taken": "The pool's sequence number is already logged for another record",
        "log_refused": "The assignment's route log was refused",
    }

    def __init__(self, pool: str, sequence: int, reason: str) -> None:
        super().__init__(self.MESSAGES[reason])
        self.pool = pool
        self.sequence = sequence
        self.reason = reason

    def details(self) -> dict[str, Any]:
        return {"pool": self.pool, "sequence": self.sequence, "reason": self.reason}


class RecordNotFound(RoutingError):
    def __init__(self, sobject: str, record_id: str) -> None:
        super().__init__(f"{sobject} {record_id} not found in Salesforce")
        self.sobject = sobject
        self.record_id = record_id


class OwnerNotWritten(RoutingError):
    """Salesforce refused the new OwnerId for a reason other than an inactive owner."""

    def __init__(self, record_id: str, codes: list[str], message: str) -> None:
        super().__init__(message)
        self.record_id = record_id
        self.codes = codes


class SalesforceUnavailable(RoutingError):
    """No Salesforce org is configured for this process."""
