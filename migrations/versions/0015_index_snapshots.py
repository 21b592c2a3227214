"""Index snapshots: an encoding process stores its whole matching index, so a new process loads it

`index_snapshots` holds one row per encoder (its dimension and change-log position),
`index_snapshot_parts` the named arrays of each side, cut into parts. Both start empty: the next
caught-up encoding process writes the first snapshot.

Revision ID: 0015
Revises: 0014
Create Date: 2026-11-26
"""

import sqlalchemy as sa
from alembic import op

revision = "0015"
down_revision = "0014"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "index_snapshots",
        sa.Column("encoder", sa.String(200), primary_key=True),
        sa.Column("dim", sa.Integer, nullable=False),
        sa.Column("applied_seq", sa.Integer, nullable=False),
        sa.Column("written_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_table(
        "index_snapshot_parts",
        sa.Column("encoder", sa.String(200), primary_key=True),
        sa.Column("side", sa.String(20), primary_key=True),
        sa.Column("name", sa.String(40), primary_key=True),
        sa.Column("part", sa.Integer, primary_key=True),
        sa.Column("dtype", sa.String(10), nullable=False),
        sa.Column("shape", sa.String(40), nullable=False),
        sa.Column("data", sa.LargeBinary, nullable=False),
    )


def downgrade() -> None:
    op.drop_table("index_snapshot_parts")
    op.drop_table("index_snapshots")
