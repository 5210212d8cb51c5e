"""triggers: webhook secrets and poll states

Revision ID: e3282147a5dc
Revises: 693cf6ee6e30
Create Date: 2026-11-25 01:20:42.395393
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op


import bridge.db.base

revision: str = 'e3282147a5dc'
down_revision: str | None = '693cf6ee6e30'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:

    op.create_table('poll_states',
    sa.Column('tenant_id', sa.Integer(), nullable=False),
    sa.Column('object', sa.String(length=40), nullable=False),
    sa.Column('watermark_ts', bridge.db.base.UTCDateTime(), nullable=True),
    sa.Column('watermark_id', sa.String(length=18), nullable=True),
    sa.Column('last_poll_time', bridge.db.base.UTCDateTime(), nullable=True),
    sa.Column('next_poll_time', bridge.db.base.UTCDateTime(), nullable=True),
    sa.Column('records_processed', sa.Integer(), nullable=False),
    sa.Column('records_total', sa.Integer(), nullable=False),
    sa.Column('skipped_loop_guard', sa.Integer(), nullable=False),
    sa.Column('skipped_already_processed', sa.Integer(), nullable=False),
    sa.Column('deleted_seen', sa.Integer(), nullable=False),
    sa.Column('queries', sa.Integer(), nullable=False),
    sa.Column('last_error', sa.Text(), nullable=True),
    sa.Column('updated_at', bridge.db.base.UTCDateTime(), nullable=False),
    sa.ForeignKeyConstraint(['tenant_id'], ['tenants.id'], name=op.f('fk_poll_states_tenant_id_tenants'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('tenant_id', 'object', name=op.f('pk_poll_states'))
    )
    op.create_table('webhook_secrets',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('tenant_id', sa.Integer(), nullable=False),
    sa.Column('secret', sa.String(length=128), nullable=False),
    sa.Column('created_at', bridge.db.base.UTCDateTime(), nullable=False),
    sa.Column('revoked_at', bridge.db.base.UTCDateTime(), nullable=True),
    sa.ForeignKeyConstraint(['tenant_id'], ['tenants.id'], name=op.f('fk_webhook_secrets_tenant_id_tenants'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_webhook_secrets'))
    )
    with op.batch_alter_table('webhook_secrets', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_webhook_secrets_tenant_id'), ['tenant_id'], unique=False)




def downgrade() -> None:

    with op.batch_alter_table('webhook_secrets', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_webhook_secrets_tenant_id'))

    op.drop_table('webhook_secrets')
    op.drop_table('poll_states')

