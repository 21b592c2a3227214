"""Broker scope and assignments; milestone due and overdue notice stamps

Organizations that already hold broker keys keep working province-wide (`province`), so the
upgrade changes no one's access; new organizations start `assigned`.

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-25
"""

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("organizations", sa.Column("broker_scope", sa.String(length=10), nullable=False, server_default="assigned"))
    op.execute("UPDATE organizations SET broker_scope = 'province' WHERE id IN (SELECT org_id FROM api_keys WHERE role = 'broker')")
    op.create_table(
        "broker_assignments",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("broker_org_id", sa.Integer(), nullable=False),
        sa.Column("org_id", sa.Integer(), nullable=False),
        sa.Column("note", sa.String(length=500), nullable=False),
        sa.Column("created_by_key_id", sa.Integer(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["broker_org_id"], ["organizations.id"]),
        sa.ForeignKeyConstraint(["org_id"], ["organizations.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("broker_org_id", "org_id", name="uq_broker_assignments_pair"),
    )
    op.create_index("ix_broker_assignments_broker_org_id", "broker_assignments", ["broker_org_id"])
    op.create_index("ix_broker_assignments_org_id", "broker_assignments", ["org_id"])
    op.add_column("milestones", sa.Column("due_notice_at", sa.DateTime(timezone=True), nullable=True))
    op.add_column("milestones", sa.Column("overdue_notice_at", sa.DateTime(timezone=True), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("milestones") as batch:
        batch.drop_column("overdue_notice_at")
        batch.drop_column("due_notice_at")
    op.drop_index("ix_broker_assignments_org_id", table_name="broker_assignments")
    op.drop_index("ix_broker_assignments_broker_org_id", table_name="broker_assignments")
    op.drop_table("broker_assignments")
    with op.batch_alter_table("organizations") as batch:
        batch.drop_column("broker_scope")
