"""foundation: organizations, keys, demands, achievements, history

Revision ID: 0001
Revises:
Create Date: 2026-11-24 07:04:40.879357
"""

import sqlalchemy as sa
from alembic import op

revision = '0001'
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('change_history',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('entity_type', sa.String(length=20), nullable=False),
    sa.Column('entity_id', sa.Integer(), nullable=False),
    sa.Column('action', sa.String(length=20), nullable=False),
    sa.Column('changes', sa.JSON(), nullable=False),
    sa.Column('actor_key_id', sa.Integer(), nullable=True),
    sa.Column('actor_org_id', sa.Integer(), nullable=True),
    sa.Column('at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('change_history', schema=None) as batch_op:
        batch_op.create_index('ix_change_history_entity', ['entity_type', 'entity_id'], unique=False)

    op.create_table('organizations',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('kind', sa.String(length=20), nullable=False),
    sa.Column('credit_code', sa.String(length=18), nullable=True),
    sa.Column('contact', sa.JSON(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('region_code', sa.String(length=6), nullable=True),
    sa.Column('region_province', sa.String(length=2), nullable=True),
    sa.Column('region_city', sa.String(length=4), nullable=True),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('credit_code')
    )
    with op.batch_alter_table('organizations', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_organizations_kind'), ['kind'], unique=False)
        batch_op.create_index(batch_op.f('ix_organizations_region_city'), ['region_city'], unique=False)
        batch_op.create_index(batch_op.f('ix_organizations_region_province'), ['region_province'], unique=False)

    op.create_table('achievements',
    sa.Column('abstract', sa.Text(), nullable=False),
    sa.Column('maturity', sa.String(length=12), nullable=True),
    sa.Column('trl', sa.SmallInteger(), nullable=True),
    sa.Column('patents', sa.JSON(), nullable=False),
    sa.Column('transfer_modes', sa.JSON(), nullable=False),
    sa.Column('price_min', sa.BigInteger(), nullable=True),
    sa.Column('price_max', sa.BigInteger(), nullable=True),
    sa.Column('team', sa.JSON(), nullable=False),
    sa.Column('institution', sa.String(length=200), nullable=False),
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('title', sa.String(length=200), nullable=False),
    sa.Column('fields', sa.JSON(), nullable=False),
    sa.Column('keywords', sa.JSON(), nullable=False),
    sa.Column('negotiable', sa.Boolean(), nullable=False),
    sa.Column('contact', sa.JSON(), nullable=False),
    sa.Column('status', sa.String(length=12), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('published_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('owner_org_id', sa.Integer(), nullable=False),
    sa.Column('region_code', sa.String(length=6), nullable=True),
    sa.Column('region_province', sa.String(length=2), nullable=True),
    sa.Column('region_city', sa.String(length=4), nullable=True),
    sa.ForeignKeyConstraint(['owner_org_id'], ['organizations.id'], ),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('achievements', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_achievements_maturity'), ['maturity'], unique=False)
        batch_op.create_index(batch_op.f('ix_achievements_owner_org_id'), ['owner_org_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_achievements_region_city'), ['region_city'], unique=False)
        batch_op.create_index(batch_op.f('ix_achievements_region_province'), ['region_province'], unique=False)
        batch_op.create_index(batch_op.f('ix_achievements_status'), ['status'], unique=False)
        batch_op.create_index(batch_op.f('ix_achievements_updated_at'), ['updated_at'], unique=False)

    op.create_table('api_keys',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('org_id', sa.Integer(), nullable=False),
    sa.Column('role', sa.String(length=10), nullable=False),
    sa.Column('label', sa.String(length=100), nullable=False),
    sa.Column('prefix', sa.String(length=12), nullable=False),
    sa.Column('key_hash', sa.String(length=64), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('revoked_at', sa.DateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['org_id'], ['organizations.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('key_hash')
    )
    with op.batch_alter_table('api_keys', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_api_keys_org_id'), ['org_id'], unique=False)

    op.create_table('demands',
    sa.Column('description', sa.Text(), nullable=False),
    sa.Column('reward', sa.BigInteger(), nullable=True),
    sa.Column('budget_min', sa.BigInteger(), nullable=True),
    sa.Column('budget_max', sa.BigInteger(), nullable=True),
    sa.Column('deadline', sa.Date(), nullable=True),
    sa.Column('cooperation_modes', sa.JSON(), nullable=False),
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('title', sa.String(length=200), nullable=False),
    sa.Column('fields', sa.JSON(), nullable=False),
    sa.Column('keywords', sa.JSON(), nullable=False),
    sa.Column('negotiable', sa.Boolean(), nullable=False),
    sa.Column('contact', sa.JSON(), nullable=False),
    sa.Column('status', sa.String(length=12), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('published_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('owner_org_id', sa.Integer(), nullable=False),
    sa.Column('region_code', sa.String(length=6), nullable=True),
    sa.Column('region_province', sa.String(length=2), nullable=True),
    sa.Column('region_city', sa.String(length=4), nullable=True),
    sa.ForeignKeyConstraint(['owner_org_id'], ['organizations.id'], ),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('demands', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_demands_owner_org_id'), ['owner_org_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_demands_region_city'), ['region_city'], unique=False)
        batch_op.create_index(batch_op.f('ix_demands_region_province'), ['region_province'], unique=False)
        batch_op.create_index(batch_op.f('ix_demands_status'), ['status'], unique=False)
        batch_op.create_index(batch_op.f('ix_demands_updated_at'), ['updated_at'], unique=False)



def downgrade() -> None:
    with op.batch_alter_table('demands', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_demands_updated_at'))
        batch_op.drop_index(batch_op.f('ix_demands_status'))
        batch_op.drop_index(batch_op.f('ix_demands_region_province'))
        batch_op.drop_index(batch_op.f('ix_demands_region_city'))
        batch_op.drop_index(batch_op.f('ix_demands_owner_org_id'))

    op.drop_table('demands')
    with op.batch_alter_table('api_keys', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_api_keys_org_id'))

    op.drop_table('api_keys')
    with op.batch_alter_table('achievements', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_achievements_updated_at'))
        batch_op.drop_index(batch_op.f('ix_achievements_status'))
        batch_op.drop_index(batch_op.f('ix_achievements_region_province'))
        batch_op.drop_index(batch_op.f('ix_achievements_region_city'))
        batch_op.drop_index(batch_op.f('ix_achievements_owner_org_id'))
        batch_op.drop_index(batch_op.f('ix_achievements_maturity'))

    op.drop_table('achievements')
    with op.batch_alter_table('organizations', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_organizations_region_province'))
        batch_op.drop_index(batch_op.f('ix_organizations_region_city'))
        batch_op.drop_index(batch_op.f('ix_organizations_kind'))

    op.drop_table('organizations')
    with op.batch_alter_table('change_history', schema=None) as batch_op:
        batch_op.drop_index('ix_change_history_entity')

    op.drop_table('change_history')
