"""Reading a tenant's route logs for export: in (timestamp, id) order, in keyset chunks.

An export never holds more than one chunk of rows: `plan` counts what the page will hold (at
most `limit + 1` index entries, to apply the large-export rate limit and to know whether a next
page exists) and notes the page's last row, then `chunk` is called repeatedly, each call one
short transaction reading the next `size` rows after the last one written and not past the
plan's last row, until a chunk comes back short. Every page, the final one too, is bounded by
that row: rows committed inside the page after the plan join it (it grows past `rows` by those
only); none is skipped, because the next page starts after `last`, not after a row count; rows
committed after `last` on a final page are left for a later export with a `from` past it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, Row, func, select, tuple_

from bridge.db import Database
from bridge.keyset_cursor import Position, fingerprint
from bridge.logs.tables import RouteLog

CHUNK_ROWS = 1_000

COLUMNS = (
    RouteLog.timestamp,
    RouteLog.object,
    RouteLog.object_id,
    RouteLog.action,
    RouteLog.pool,
    RouteLog.assigned_to,
    RouteLog.prev_owner,
    RouteLog.sequence,
    RouteLog.reason,
    RouteLog.request_id,
    RouteLog.idempotency_key,
)


@dataclass(frozen=True, slots=True)
class ExportFilter:
    tenant_id: int
    start: datetime  # inclusive
    end: datetime  # exclusive
    pool: str | None = None
    object: str | None = None
    action: str | None = None

    @property
    def fingerprint(self) -> str:
        return fingerprint(
            self.tenant_id, self.start.isoformat(), self.end.isoformat(),
            self.pool, self.object, self.action,
        )  # fmt: skip

    def clauses(self) -> list[ColumnElement[bool]]:
        where = [
            RouteLog.tenant_id == self.tenant_id,
            RouteLog.timestamp >= self.start,
            RouteLog.timestamp < self.end,
        ]
        if self.pool is not None:
            where.append(RouteLog.pool == self.pool)
        if self.object is not None:
            where.append(RouteLog.object == self.object)
        if self.action is not None:
            where.append(RouteLog.action == self.action)
        return where


@dataclass(frozen=True, slots=True)
class ExportPlan:
    rows: int  # rows the page held when planned (rate limit, X-Export-Rows)
    last: Position | None  # the page's last row when planned (its bound); None: page empty
    has_more: bool  # rows followed `last` when planned: the next page starts after it


def _key() -> Any:
    return tuple_(RouteLog.timestamp, RouteLog.id)


def _after(position: Position | None) -> list[ColumnElement[bool]]:
    if position is None:
        return []
    return [_key() > tuple_(position.timestamp, position.id)]


def plan(db: Database, where: ExportFilter, after: Position | None, limit: int) -> ExportPlan:
    clauses = where.clauses() + _after(after)
    window = (
        select(RouteLog.timestamp, RouteLog.id)
        .where(*clauses)
        .order_by(RouteLog.timestamp, RouteLog.id)
        .limit(limit + 1)
        .subquery()
    )
    # One statement (one snapshot): the window's size and its last two rows, so the count and
    # the page's last row agree even while rows are being committed.
    tail = (
        select(window.c.timestamp, window.c.id, func.count().over())
        .order_by(window.c.timestamp.desc(), window.c.id.desc())
        .limit(2)
    )
    with db.session() as session:
        rows = list(session.execute(tail))
    if not rows:
        return ExportPlan(rows=0, last=None, has_more=False)
    found = int(rows[0][2])
    edge = rows[1] if found > limit else rows[0]  # the (limit+1)-th row is the next page's
    return ExportPlan(
        rows=min(found, limit), last=Position(edge[0], int(edge[1])), has_more=found > limit
    )


def chunk(
    db: Database,
    where: ExportFilter,
    after: Position | None,
    until: Position,
    size: int,
    include_diff: bool,
) -> list[Row[Any]]:
    """Up to `size` rows after `after` and not past `until` (the plan's last row); the last
    two columns are (id, diff-or-None)."""
    clauses = where.clauses() + _after(after)
    clauses.append(_key() <= tuple_(until.timestamp, until.id))
    diff = RouteLog.diff if include_diff else None
    columns = (*COLUMNS, RouteLog.id, *((diff,) if diff is not None else ()))
    query = select(*columns).where(*clauses).order_by(RouteLog.timestamp, RouteLog.id).limit(size)
    with db.session() as session:
        return list(session.execute(query))


def position_of(row: Row[Any]) -> Position:
    return Position(row[0], int(row[len(COLUMNS)]))
