"""Digest e-mail: the addresses an organization's digest goes to, and each digest's mail

Revision ID: 0014
Revises: 0013
Create Date: 2026-11-28
"""

import sqlalchemy as sa
from alembic import op

revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "digest_recipients",
        sa.Column("org_id", sa.Integer(), sa.ForeignKey("organizations.id", ondelete="CASCADE"), primary_key=True),
        sa.Column("email", sa.String(200), primary_key=True),
    )
    op.create_table(
        "digest_mails",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("org_id", sa.Integer(), sa.ForeignKey("organizations.id", ondelete="CASCADE"), nullable=False),
        sa.Column("notification_id", sa.Integer(), sa.ForeignKey("notifications.id", ondelete="CASCADE"), nullable=False),
        sa.Column("recipients", sa.JSON(), nullable=False),
        sa.Column("subject", sa.String(200), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("html", sa.Text(), nullable=False),
        sa.Column("status", sa.String(10), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("next_attempt_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_error", sa.String(500), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("sent_at", sa.DateTime(timezone=True), nullable=True),
        sa.UniqueConstraint("notification_id", name="uq_digest_mails_notification_id"),
        sqlite_autoincrement=True,  # ids are never handed out twice (see 0009)
    )
    op.create_index("ix_digest_mails_org_id", "digest_mails", ["org_id"])
    op.create_index("ix_digest_mails_due", "digest_mails", ["status", "next_attempt_at"])


def downgrade() -> None:
    op.drop_index("ix_digest_mails_due", table_name="digest_mails")
    op.drop_index("ix_digest_mails_org_id", table_name="digest_mails")
    op.drop_table("digest_mails")
    op.drop_table("digest_recipients")
