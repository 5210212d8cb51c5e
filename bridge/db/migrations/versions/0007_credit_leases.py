"""credit leases: each lease and its return recorded once

Revision ID: 3c1e5b7a9d20
Revises: f0497df9722c
Create Date: 2026-11-25 04:40:00
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '3c1e5b7a9d20'
down_revision: str | None = 'f0497df9722c'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_WHERE = sa.text("endpoint = 'triggers:lease'")


def upgrade() -> None:
    op.create_index(
        'uq_credit_ledger_lease', 'credit_ledger', ['kind', 'request_id'], unique=True,
        sqlite_where=_WHERE, postgresql_where=_WHERE,
    )


def downgrade() -> None:
    op.drop_index('uq_credit_ledger_lease', table_name='credit_ledger')
