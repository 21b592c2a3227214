"""Standing matchmaking: dispatch cursor, announced pairs, digest items, opt-outs, saved searches; notification data

The cursor starts at the end of the change log, so upgrading a populated database announces
only what is published from then on, not its whole history.

Revision ID: 0012
Revises: 0011
Create Date: 2026-11-26
"""

import sqlalchemy as sa
from alembic import op

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None

_NEVER_REUSED = {"sqlite_autoincrement": True}  # ids are never handed out twice (see 0009)


def upgrade() -> None:
    with op.batch_alter_table("notifications") as batch:
        batch.add_column(sa.Column("data", sa.JSON(), nullable=True))
    op.create_table(
        "dispatch_cursor",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        **_NEVER_REUSED,
    )
    op.execute("INSERT INTO dispatch_cursor (id, seq, updated_at) SELECT 1, COALESCE(MAX(seq), 0), CURRENT_TIMESTAMP FROM index_changes")
    op.create_table(
        "announced_matches",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("demand_id", sa.Integer(), sa.ForeignKey("demands.id", ondelete="CASCADE"), nullable=False),
        sa.Column("achievement_id", sa.Integer(), sa.ForeignKey("achievements.id", ondelete="CASCADE"), nullable=False),
        sa.Column("relevance", sa.Float(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.UniqueConstraint("demand_id", "achievement_id", name="uq_announced_matches_pair"),
        **_NEVER_REUSED,
    )
    op.create_index("ix_announced_matches_achievement_id", "announced_matches", ["achievement_id"])
    op.create_table(
        "digest_items",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("org_id", sa.Integer(), sa.ForeignKey("organizations.id", ondelete="CASCADE"), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("demand_id", sa.Integer(), sa.ForeignKey("demands.id", ondelete="CASCADE"), nullable=False),
        sa.Column("achievement_id", sa.Integer(), sa.ForeignKey("achievements.id", ondelete="CASCADE"), nullable=False),
        sa.Column("relevance", sa.Float(), nullable=False),
        sa.Column("reason", sa.String(8), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.UniqueConstraint("org_id", "demand_id", "achievement_id", name="uq_digest_items_pair"),
        **_NEVER_REUSED,
    )
    op.create_index("ix_digest_items_day", "digest_items", ["day", "org_id"])
    op.create_table(
        "dispatch_opt_outs",
        sa.Column("org_id", sa.Integer(), sa.ForeignKey("organizations.id", ondelete="CASCADE"), primary_key=True),
        sa.Column("kind", sa.String(40), primary_key=True),
    )
    op.create_table(
        "saved_searches",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("org_id", sa.Integer(), sa.ForeignKey("organizations.id", ondelete="CASCADE"), nullable=False),
        sa.Column("key_id", sa.Integer(), nullable=True),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("target", sa.String(20), nullable=False),
        sa.Column("text", sa.String(2000), nullable=False),
        sa.Column("filters", sa.JSON(), nullable=False),
        sa.Column("frequency", sa.String(12), nullable=False),
        sa.Column("min_band", sa.String(10), nullable=False),
        sa.Column("covered_seq", sa.Integer(), nullable=False),
        sa.Column("next_run_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_run_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        **_NEVER_REUSED,
    )
    op.create_index("ix_saved_searches_org_id", "saved_searches", ["org_id"])
    op.create_index("ix_saved_searches_due", "saved_searches", ["next_run_at"])
    op.create_table(
        "saved_search_hits",
        sa.Column("saved_search_id", sa.Integer(), sa.ForeignKey("saved_searches.id", ondelete="CASCADE"), primary_key=True),
        sa.Column("record_id", sa.Integer(), primary_key=True),
        sa.Column("relevance", sa.Float(), nullable=False),
        sa.Column("sent_at", sa.DateTime(timezone=True), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("saved_search_hits")
    op.drop_index("ix_saved_searches_due", table_name="saved_searches")
    op.drop_index("ix_saved_searches_org_id", table_name="saved_searches")
    op.drop_table("saved_searches")
    op.drop_table("dispatch_opt_outs")
    op.drop_index("ix_digest_items_day", table_name="digest_items")
    op.drop_table("digest_items")
    op.drop_index("ix_announced_matches_achievement_id", table_name="announced_matches")
    op.drop_table("announced_matches")
    op.drop_table("dispatch_cursor")
    with op.batch_alter_table("notifications") as batch:
        batch.drop_column("data")
