"""Brokerage: shortlist entries, contact records, match feedback, contracts, webhooks and their outbox

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-24
"""

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

_ACTIVE = sa.text("status IN ('suggested', 'contacted', 'negotiating')")


def upgrade() -> None:
    op.create_table(
        "shortlist_entries",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("broker_org_id", sa.Integer(), nullable=False),
        sa.Column("demand_id", sa.Integer(), nullable=False),
        sa.Column("achievement_id", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("source", sa.String(length=8), nullable=False),
        sa.Column("match_score", sa.Float(), nullable=True),
        sa.Column("match_rank", sa.Integer(), nullable=True),
        sa.Column("note", sa.Text(), nullable=False),
        sa.Column("drop_reason", sa.String(length=500), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("contacted_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("negotiating_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("closed_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(["broker_org_id"], ["organizations.id"]),
        sa.ForeignKeyConstraint(["demand_id"], ["demands.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["achievement_id"], ["achievements.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_shortlist_entries_broker_org_id", "shortlist_entries", ["broker_org_id"])
    op.create_index("ix_shortlist_entries_demand_id", "shortlist_entries", ["demand_id"])
    op.create_index("ix_shortlist_entries_achievement_id", "shortlist_entries", ["achievement_id"])
    op.create_index("ix_shortlist_entries_status", "shortlist_entries", ["status"])
    op.create_index(
        "uq_shortlist_active_per_broker", "shortlist_entries", ["broker_org_id", "demand_id", "achievement_id"], unique=True,
        sqlite_where=_ACTIVE, postgresql_where=_ACTIVE,
    )

    op.create_table(
        "contact_records",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("entry_id", sa.Integer(), nullable=False),
        sa.Column("contact_date", sa.Date(), nullable=False),
        sa.Column("parties", sa.JSON(), nullable=False),
        sa.Column("channel", sa.String(length=12), nullable=False),
        sa.Column("notes", sa.Text(), nullable=False),
        sa.Column("recorded_by_key_id", sa.Integer(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["entry_id"], ["shortlist_entries.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_contact_records_entry_id", "contact_records", ["entry_id"])

    op.create_table(
        "match_feedback",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("broker_org_id", sa.Integer(), nullable=False),
        sa.Column("demand_id", sa.Integer(), nullable=False),
        sa.Column("achievement_id", sa.Integer(), nullable=False),
        sa.Column("useful", sa.Boolean(), nullable=False),
        sa.Column("reason", sa.String(length=500), nullable=False),
        sa.Column("match_score", sa.Float(), nullable=True),
        sa.Column("match_rank", sa.Integer(), nullable=True),
        sa.Column("recorded_by_key_id", sa.Integer(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["broker_org_id"], ["organizations.id"]),
        sa.ForeignKeyConstraint(["demand_id"], ["demands.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["achievement_id"], ["achievements.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_match_feedback_broker_org_id", "match_feedback", ["broker_org_id"])
    op.create_index("ix_match_feedback_useful", "match_feedback", ["useful"])
    op.create_index("ix_match_feedback_pair", "match_feedback", ["demand_id", "achievement_id"])

    op.create_table(
        "contracts",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("contract_type", sa.String(length=12), nullable=False),
        sa.Column("title", sa.String(length=200), nullable=False),
        sa.Column("amount", sa.BigInteger(), nullable=False),
        sa.Column("signed_on", sa.Date(), nullable=False),
        sa.Column("registration_number", sa.String(length=40), nullable=True),
        sa.Column("shortlist_entry_id", sa.Integer(), nullable=True),
        sa.Column("proposal_id", sa.Integer(), nullable=True),
        sa.Column("demand_id", sa.Integer(), nullable=True),
        sa.Column("achievement_id", sa.Integer(), nullable=True),
        sa.Column("note", sa.Text(), nullable=False),
        sa.Column("recorded_by_org_id", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["shortlist_entry_id"], ["shortlist_entries.id"], ondelete="SET NULL"),
        sa.ForeignKeyConstraint(["proposal_id"], ["proposals.id"], ondelete="SET NULL"),
        sa.ForeignKeyConstraint(["demand_id"], ["demands.id"], ondelete="SET NULL"),
        sa.ForeignKeyConstraint(["achievement_id"], ["achievements.id"], ondelete="SET NULL"),
        sa.ForeignKeyConstraint(["recorded_by_org_id"], ["organizations.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("registration_number"),
    )
    op.create_index("ix_contracts_contract_type", "contracts", ["contract_type"])
    op.create_index("ix_contracts_signed_on", "contracts", ["signed_on"])
    op.create_index("ix_contracts_shortlist_entry_id", "contracts", ["shortlist_entry_id"])
    op.create_index("ix_contracts_proposal_id", "contracts", ["proposal_id"])
    op.create_index("ix_contracts_demand_id", "contracts", ["demand_id"])
    op.create_index("ix_contracts_achievement_id", "contracts", ["achievement_id"])

    op.create_table(
        "webhooks",
        sa.Column("org_id", sa.Integer(), nullable=False),
        sa.Column("url", sa.String(length=1000), nullable=False),
        sa.Column("secret", sa.String(length=200), nullable=False),
        sa.Column("allow_private", sa.Boolean(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["org_id"], ["organizations.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("org_id"),
    )

    op.create_table(
        "webhook_outbox",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("org_id", sa.Integer(), nullable=False),
        sa.Column("notification_id", sa.Integer(), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("status", sa.String(length=10), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("next_attempt_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_error", sa.String(length=500), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("delivered_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(["org_id"], ["organizations.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["notification_id"], ["notifications.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_webhook_outbox_org_id", "webhook_outbox", ["org_id"])
    op.create_index("ix_webhook_outbox_due", "webhook_outbox", ["status", "next_attempt_at"])


def downgrade() -> None:
    op.drop_index("ix_webhook_outbox_due", table_name="webhook_outbox")
    op.drop_index("ix_webhook_outbox_org_id", table_name="webhook_outbox")
    op.drop_table("webhook_outbox")
    op.drop_table("webhooks")
    for column in ("achievement_id", "demand_id", "proposal_id", "shortlist_entry_id", "signed_on", "contract_type"):
        op.drop_index(f"ix_contracts_{column}", table_name="contracts")
    op.drop_table("contracts")
    op.drop_index("ix_match_feedback_pair", table_name="match_feedback")
    op.drop_index("ix_match_feedback_useful", table_name="match_feedback")
    op.drop_index("ix_match_feedback_broker_org_id", table_name="match_feedback")
    op.drop_table("match_feedback")
    op.drop_index("ix_contact_records_entry_id", table_name="contact_records")
    op.drop_table("contact_records")
    op.drop_index("uq_shortlist_active_per_broker", table_name="shortlist_entries")
    for column in ("status", "achievement_id", "demand_id", "broker_org_id"):
        op.drop_index(f"ix_shortlist_entries_{column}", table_name="shortlist_entries")
    op.drop_table("shortlist_entries")
