"""SQL for balances and the ledger. Every function works inside the caller's transaction."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import case, func, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from bridge.credits.tables import CreditBalance, CreditEntry

DEBIT, GRANT, REFUND = "debit", "grant", "refund"


@dataclass(frozen=True, slots=True)
class Tags:
    """What a ledger line is attributed to (and what usage can be filtered by)."""

    workflow_id: str | None = None
    workflow_run_id: str | None = None
    custom_key: str | None = None
    custom_value: str | None = None

    def columns(self) -> dict[str, str | None]:
        return {
            "workflow_id": self.workflow_id,
            "workflow_run_id": self.workflow_run_id,
            "custom_key": self.custom_key,
            "custom_value": self.custom_value,
        }


NO_TAGS = Tags()


def take(session: Session, tenant_id: int, amount: int) -> int | None:
    """Guarded debit: the new remaining balance, or None when it would go below zero.

    One UPDATE whose WHERE re-checks the balance: the row lock (PostgreSQL) or the database
    write lock (SQLite, BEGIN IMMEDIATE) serialises concurrent debits, and each re-evaluates
    the guard against the committed balance, so no interleaving can overspend.
    """
    stmt = (
        update(CreditBalance)
        .where(CreditBalance.tenant_id == tenant_id, CreditBalance.remaining >= amount)
        .values(remaining=CreditBalance.remaining - amount)
        .returning(CreditBalance.remaining)
    )
    return session.execute(stmt).scalar_one_or_none()


def locked_remaining(session: Session, tenant_id: int) -> int:
    """The remaining balance (0 without one), locked for the rest of the transaction: the row
    lock (PostgreSQL) or the write lock SQLite's BEGIN IMMEDIATE already holds. So a `take`
    of up to this much in the same transaction cannot fail."""
    stmt = (
        select(CreditBalance.remaining)
        .where(CreditBalance.tenant_id == tenant_id)
        .with_for_update()
    )
    return int(session.execute(stmt).scalar_one_or_none() or 0)


def give(session: Session, tenant_id: int, amount: int, *, to_total: bool) -> int:
    """Add to the balance (creating it); `to_total` also raises the total granted."""
    dialect = session.get_bind().dialect.name
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    stmt = insert(CreditBalance).values(
        tenant_id=tenant_id, remaining=amount, total=amount if to_total else 0
    )
    stmt = stmt.on_conflict_do_update(
        index_elements=[CreditBalance.tenant_id],
        set_={
            "remaining": CreditBalance.remaining + amount,
            "total": CreditBalance.total + (amount if to_total else 0),
        },
    ).returning(CreditBalance.remaining)
    return int(session.execute(stmt).scalar_one())


def balance(session: Session, tenant_id: int) -> tuple[int, int]:
    """(remaining, total); (0, 0) for a tenant never granted anything."""
    row = session.execute(
        select(CreditBalance.remaining, CreditBalance.total).where(
            CreditBalance.tenant_id == tenant_id
        )
    ).one_or_none()
    return (int(row[0]), int(row[1])) if row else (0, 0)


def entry(
    *,
    tenant_id: int,
    kind: str,
    amount: int,
    endpoint: str,
    tags: Tags = NO_TAGS,
    request_id: str | None = None,
) -> CreditEntry:
    """A ledger line, not yet added to a session (for bulk inserts)."""
    return CreditEntry(
        tenant_id=tenant_id,
        kind=kind,
        amount=amount,
        endpoint=endpoint,
        request_id=request_id,
        **tags.columns(),
    )


def add_entry(
    session: Session,
    *,
    tenant_id: int,
    kind: str,
    amount: int,
    endpoint: str,
    tags: Tags = NO_TAGS,
    request_id: str | None = None,
    created_at: datetime | None = None,
) -> CreditEntry:
    line = entry(
        tenant_id=tenant_id,
        kind=kind,
        amount=amount,
        endpoint=endpoint,
        tags=tags,
        request_id=request_id,
    )
    if created_at is not None:
        line.created_at = created_at
    session.add(line)
    session.flush()
    return line


def used(
    session: Session,
    tenant_id: int,
    start: datetime,
    end: datetime,
    tags: Tags = NO_TAGS,
) -> int:
    """Debits minus refunds in [start, end] matching every given filter."""
    signed = case(
        (CreditEntry.kind == DEBIT, CreditEntry.amount),
        (CreditEntry.kind == REFUND, -CreditEntry.amount),
        else_=0,
    )
    query = select(func.coalesce(func.sum(signed), 0)).where(
        CreditEntry.tenant_id == tenant_id,
        CreditEntry.created_at >= start,
        CreditEntry.created_at <= end,
    )
    for name, value in tags.columns().items():
        if value is not None:
            query = query.where(getattr(CreditEntry, name) == value)
    return int(session.execute(query).scalar_one())
