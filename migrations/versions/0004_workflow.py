"""揭榜 workflow: call conditions on demands, proposals and milestones, interests, notifications

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-24
"""

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

_ACTIVE = sa.text("status IN ('submitted', 'shortlisted', 'awarded')")
_PENDING = sa.text("status = 'pending'")


def upgrade() -> None:
    with op.batch_alter_table("demands") as batch_op:
        batch_op.add_column(sa.Column("application_deadline", sa.Date(), nullable=True))
        batch_op.add_column(sa.Column("delivery_deadline", sa.Date(), nullable=True))
        batch_op.add_column(sa.Column("qualifications", sa.JSON(), nullable=True))
        batch_op.add_column(sa.Column("deliverables", sa.Text(), nullable=True))
        batch_op.add_column(sa.Column("acceptance_criteria", sa.Text(), nullable=True))

    op.create_table(
        "proposals",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("demand_id", sa.Integer(), nullable=False),
        sa.Column("org_id", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(length=12), nullable=False),
        sa.Column("technical_approach", sa.Text(), nullable=False),
        sa.Column("lead", sa.JSON(), nullable=False),
        sa.Column("team", sa.JSON(), nullable=False),
        sa.Column("budget", sa.BigInteger(), nullable=True),
        sa.Column("schedule", sa.JSON(), nullable=False),
        sa.Column("achievement_ids", sa.JSON(), nullable=False),
        sa.Column("attachments", sa.JSON(), nullable=False),
        sa.Column("decision_reason", sa.String(length=500), nullable=False),
        sa.Column("pledge", sa.JSON(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("decided_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(["demand_id"], ["demands.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["org_id"], ["organizations.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_proposals_demand_id", "proposals", ["demand_id"])
    op.create_index("ix_proposals_org_id", "proposals", ["org_id"])
    op.create_index("ix_proposals_status", "proposals", ["status"])
    op.create_index(
        "uq_proposals_active_per_org", "proposals", ["demand_id", "org_id"], unique=True,
        sqlite_where=_ACTIVE, postgresql_where=_ACTIVE,
    )

    op.create_table(
        "milestones",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("proposal_id", sa.Integer(), nullable=False),
        sa.Column("number", sa.Integer(), nullable=False),
        sa.Column("title", sa.String(length=200), nullable=False),
        sa.Column("due_date", sa.Date(), nullable=False),
        sa.Column("status", sa.String(length=12), nullable=False),
        sa.Column("report", sa.Text(), nullable=False),
        sa.Column("return_reason", sa.String(length=500), nullable=False),
        sa.Column("reported_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("accepted_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(["proposal_id"], ["proposals.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("proposal_id", "number", name="uq_milestones_proposal_number"),
    )

    op.create_table(
        "interests",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("achievement_id", sa.Integer(), nullable=False),
        sa.Column("org_id", sa.Integer(), nullable=False),
        sa.Column("mode", sa.String(length=20), nullable=False),
        sa.Column("message", sa.Text(), nullable=False),
        sa.Column("status", sa.String(length=12), nullable=False),
        sa.Column("reply", sa.String(length=500), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("decided_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(["achievement_id"], ["achievements.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["org_id"], ["organizations.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_interests_achievement_id", "interests", ["achievement_id"])
    op.create_index("ix_interests_org_id", "interests", ["org_id"])
    op.create_index(
        "uq_interests_pending_per_org", "interests", ["achievement_id", "org_id"], unique=True,
        sqlite_where=_PENDING, postgresql_where=_PENDING,
    )

    op.create_table(
        "notifications",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("org_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=40), nullable=False),
        sa.Column("message", sa.String(length=500), nullable=False),
        sa.Column("entity_type", sa.String(length=20), nullable=False),
        sa.Column("entity_id", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("read_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(["org_id"], ["organizations.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_notifications_org_read", "notifications", ["org_id", "read_at"])


def downgrade() -> None:
    op.drop_index("ix_notifications_org_read", table_name="notifications")
    op.drop_table("notifications")
    op.drop_index("uq_interests_pending_per_org", table_name="interests")
    op.drop_index("ix_interests_org_id", table_name="interests")
    op.drop_index("ix_interests_achievement_id", table_name="interests")
    op.drop_table("interests")
    op.drop_table("milestones")
    op.drop_index("uq_proposals_active_per_org", table_name="proposals")
    op.drop_index("ix_proposals_status", table_name="proposals")
    op.drop_index("ix_proposals_org_id", table_name="proposals")
    op.drop_index("ix_proposals_demand_id", table_name="proposals")
    op.drop_table("proposals")
    # Demands that moved along the 揭榜 path fall back to the listing state closest to them.
    op.execute("UPDATE demands SET status = 'closed' WHERE status IN ('in_progress', 'completed', 'failed', 'terminated')")
    with op.batch_alter_table("demands") as batch_op:
        batch_op.drop_column("acceptance_criteria")
        batch_op.drop_column("deliverables")
        batch_op.drop_column("qualifications")
        batch_op.drop_column("delivery_deadline")
        batch_op.drop_column("application_deadline")
