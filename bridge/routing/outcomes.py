"""What the routing service hands back: picks, assignments, a batch's outcome, reset rules."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime


@dataclass(frozen=True)
class Reset:
    """`reset_rules`: a reason, and optionally the member who takes this record."""

    reason: str
    place_user_at_top: str | None = None


@dataclass(frozen=True)
class Pick:
    pool: str
    record_id: str
    assigned_to: str
    sequence: int
    timestamp: datetime
    pool_size: int
    cached: bool
    weights: dict[str, int] = field(default_factory=dict)


@dataclass(frozen=True)
class Assignment:
    pool: str
    sobject: str
    record_id: str
    assigned_to: str
    sequence: int
    timestamp: datetime
    pool_size: int
    cached: bool
    prev_owner: str | None = None


@dataclass
class BatchAssignments:
    """What `assign_records` did with each record id."""

    assigned: list[Assignment] = field(default_factory=list)
    cached: list[Assignment] = field(default_factory=list)
    unassigned: dict[str, str] = field(default_factory=dict)  # id -> reason
    failed: dict[str, str] = field(default_factory=dict)  # id -> Salesforce error


def assignment(sobject: str, pick: Pick, prev: str | None) -> Assignment:
    return Assignment(
        pick.pool, sobject, pick.record_id, pick.assigned_to, pick.sequence, pick.timestamp,
        pick.pool_size, pick.cached, prev,
    )  # fmt: skip
