"""foundation: tenants, keys, credits, route logs, dead letters

Revision ID: 693cf6ee6e30
Revises: 
Create Date: 2026-11-25 01:14:59.297592
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql
from sqlalchemy.dialects import sqlite

import bridge.db.base

revision: str = '693cf6ee6e30'
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:

    op.create_table('dead_letters',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('task_name', sa.String(length=200), nullable=False),
    sa.Column('task_id', sa.String(length=64), nullable=True),
    sa.Column('args', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql').with_variant(sqlite.JSON(), 'sqlite'), nullable=False),
    sa.Column('kwargs', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql').with_variant(sqlite.JSON(), 'sqlite'), nullable=False),
    sa.Column('error', sa.Text(), nullable=False),
    sa.Column('attempts', sa.Integer(), nullable=False),
    sa.Column('tenant_id', sa.Integer(), nullable=True),
    sa.Column('request_id', sa.String(length=64), nullable=True),
    sa.Column('created_at', bridge.db.base.UTCDateTime(), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('replayed_at', bridge.db.base.UTCDateTime(), nullable=True),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_dead_letters'))
    )
    with op.batch_alter_table('dead_letters', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_dead_letters_status_created_at'), ['status', 'created_at'], unique=False)

    op.create_table('tenants',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=120), nullable=False),
    sa.Column('created_at', bridge.db.base.UTCDateTime(), nullable=False),
    sa.Column('retention_days', sa.Integer(), nullable=False),
    sa.Column('timezone', sa.String(length=64), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_tenants')),
    sa.UniqueConstraint('name', name=op.f('uq_tenants_name'))
    )
    op.create_table('api_keys',
    sa.Column('id', sa.String(length=32), nullable=False),
    sa.Column('tenant_id', sa.Integer(), nullable=False),
    sa.Column('key_hash', sa.String(length=64), nullable=False),
    sa.Column('name', sa.String(length=120), nullable=False),
    sa.Column('scopes', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql').with_variant(sqlite.JSON(), 'sqlite'), nullable=False),
    sa.Column('allowed_origins', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql').with_variant(sqlite.JSON(), 'sqlite'), nullable=False),
    sa.Column('created_at', bridge.db.base.UTCDateTime(), nullable=False),
    sa.Column('revoked_at', bridge.db.base.UTCDateTime(), nullable=True),
    sa.ForeignKeyConstraint(['tenant_id'], ['tenants.id'], name=op.f('fk_api_keys_tenant_id_tenants'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_api_keys')),
    sa.UniqueConstraint('key_hash', name=op.f('uq_api_keys_key_hash'))
    )
    with op.batch_alter_table('api_keys', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_api_keys_tenant_id'), ['tenant_id'], unique=False)

    op.create_table('credit_balances',
    sa.Column('tenant_id', sa.Integer(), nullable=False),
    sa.Column('remaining', sa.BigInteger(), nullable=False),
    sa.Column('total', sa.BigInteger(), nullable=False),
    sa.ForeignKeyConstraint(['tenant_id'], ['tenants.id'], name=op.f('fk_credit_balances_tenant_id_tenants'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('tenant_id', name=op.f('pk_credit_balances'))
    )
    op.create_table('credit_ledger',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('tenant_id', sa.Integer(), nullable=False),
    sa.Column('kind', sa.String(length=8), nullable=False),
    sa.Column('amount', sa.Integer(), nullable=False),
    sa.Column('endpoint', sa.String(length=120), nullable=False),
    sa.Column('workflow_id', sa.String(length=120), nullable=True),
    sa.Column('workflow_run_id', sa.String(length=120), nullable=True),
    sa.Column('custom_key', sa.String(length=120), nullable=True),
    sa.Column('custom_value', sa.String(length=255), nullable=True),
    sa.Column('request_id', sa.String(length=64), nullable=True),
    sa.Column('created_at', bridge.db.base.UTCDateTime(), nullable=False),
    sa.ForeignKeyConstraint(['tenant_id'], ['tenants.id'], name=op.f('fk_credit_ledger_tenant_id_tenants'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_credit_ledger'))
    )
    with op.batch_alter_table('credit_ledger', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_credit_ledger_tenant_id_created_at'), ['tenant_id', 'created_at'], unique=False)

    op.create_table('route_logs',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('tenant_id', sa.Integer(), nullable=False),
    sa.Column('timestamp', bridge.db.base.UTCDateTime(), nullable=False),
    sa.Column('object', sa.String(length=40), nullable=False),
    sa.Column('object_id', sa.String(length=64), nullable=False),
    sa.Column('action', sa.String(length=20), nullable=False),
    sa.Column('pool', sa.String(length=120), nullable=True),
    sa.Column('assigned_to', sa.String(length=18), nullable=True),
    sa.Column('prev_owner', sa.String(length=18), nullable=True),
    sa.Column('sequence', sa.Integer(), nullable=True),
    sa.Column('reason', sa.Text(), nullable=True),
    sa.Column('request_id', sa.String(length=64), nullable=True),
    sa.Column('idempotency_key', sa.String(length=255), nullable=True),
    sa.Column('diff', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql').with_variant(sqlite.JSON(), 'sqlite'), nullable=True),
    sa.ForeignKeyConstraint(['tenant_id'], ['tenants.id'], name=op.f('fk_route_logs_tenant_id_tenants'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_route_logs'))
    )
    with op.batch_alter_table('route_logs', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_route_logs_tenant_id_action_timestamp'), ['tenant_id', 'action', 'timestamp'], unique=False)
        batch_op.create_index(batch_op.f('ix_route_logs_tenant_id_object_object_id'), ['tenant_id', 'object', 'object_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_route_logs_tenant_id_pool_timestamp'), ['tenant_id', 'pool', 'timestamp'], unique=False)
        batch_op.create_index(batch_op.f('ix_route_logs_tenant_id_timestamp_id'), ['tenant_id', 'timestamp', 'id'], unique=False)

    op.create_table('salesforce_orgs',
    sa.Column('org_id', sa.String(length=18), nullable=False),
    sa.Column('tenant_id', sa.Integer(), nullable=False),
    sa.Column('settings', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql').with_variant(sqlite.JSON(), 'sqlite'), nullable=False),
    sa.ForeignKeyConstraint(['tenant_id'], ['tenants.id'], name=op.f('fk_salesforce_orgs_tenant_id_tenants'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('org_id', name=op.f('pk_salesforce_orgs'))
    )



def downgrade() -> None:

    op.drop_table('salesforce_orgs')
    with op.batch_alter_table('route_logs', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_route_logs_tenant_id_timestamp_id'))
        batch_op.drop_index(batch_op.f('ix_route_logs_tenant_id_pool_timestamp'))
        batch_op.drop_index(batch_op.f('ix_route_logs_tenant_id_object_object_id'))
        batch_op.drop_index(batch_op.f('ix_route_logs_tenant_id_action_timestamp'))

    op.drop_table('route_logs')
    with op.batch_alter_table('credit_ledger', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_credit_ledger_tenant_id_created_at'))

    op.drop_table('credit_ledger')
    op.drop_table('credit_balances')
    with op.batch_alter_table('api_keys', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_api_keys_tenant_id'))

    op.drop_table('api_keys')
    op.drop_table('tenants')
    with op.batch_alter_table('dead_letters', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_dead_letters_status_created_at'))

    op.drop_table('dead_letters')

