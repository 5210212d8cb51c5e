"""route logs: one assign per pool sequence number

Two concurrent assigns of the same record (no Idempotency-Key) replay one pick, so both used to
log an `assign` with the same sequence. The index makes the second insert fail; the routing
service then answers with the first one's assignment. Duplicates already logged are kept for
the audit but relabelled `skip` (the earliest row stays the assign), or the index could not be
built.

Revision ID: 8b2d4f6a1c38
Revises: 3c1e5b7a9d20
Create Date: 2026-11-27 10:00:00
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '8b2d4f6a1c38'
down_revision: str | None = '3c1e5b7a9d20'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_WHERE = sa.text("action = 'assign'")


def upgrade() -> None:
    op.execute(
        sa.text(
            """
            UPDATE route_logs
            SET action = 'skip',
                reason = 'duplicate assign log of a concurrent request (the first one stands)'
                         || CASE WHEN reason IS NULL THEN '' ELSE ': ' || reason END
            WHERE action = 'assign' AND sequence IS NOT NULL AND EXISTS (
                SELECT 1 FROM route_logs AS first
                WHERE first.tenant_id = route_logs.tenant_id
                  AND first.pool = route_logs.pool
                  AND first.sequence = route_logs.sequence
                  AND first.action = 'assign'
                  AND first.id < route_logs.id
            )
            """
        )
    )
    op.create_index(
        'uq_route_logs_assign_sequence', 'route_logs', ['tenant_id', 'pool', 'sequence'],
        unique=True, sqlite_where=_WHERE, postgresql_where=_WHERE,
    )


def downgrade() -> None:
    op.drop_index('uq_route_logs_assign_sequence', table_name='route_logs')
