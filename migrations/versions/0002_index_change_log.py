"""index change log: what the matching indexes must replay

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-24
"""

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "index_changes",
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("side", sa.String(length=20), nullable=False),
        sa.Column("record_id", sa.Integer(), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("seq"),
        sqlite_autoincrement=True,
    )
    op.create_index("ix_index_changes_side_seq", "index_changes", ["side", "seq"])
    # Records that existed before the log: one entry each, so the first catch-up indexes them.
    for side in ("demands", "achievements"):
        op.execute(
            f"INSERT INTO index_changes (side, record_id, at) SELECT '{side}', id, updated_at FROM {side} ORDER BY id"
        )


def downgrade() -> None:
    op.drop_index("ix_index_changes_side_seq", table_name="index_changes")
    op.drop_table("index_changes")
