"""Vectors are data: record_vectors keeps every encoded record's vector in the database

One row per (side, record, encoder) with the dimension, the hash of the normalised text, the
vector bytes and the BM25 tokens. Existing databases start empty: `techmatch reindex` (or the
worker) fills it, encoding each published record once.

Revision ID: 0010
Revises: 0009
Create Date: 2026-11-26
"""

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "record_vectors",
        sa.Column("side", sa.String(20), primary_key=True),
        sa.Column("record_id", sa.Integer, primary_key=True),
        sa.Column("encoder", sa.String(200), primary_key=True),
        sa.Column("dim", sa.Integer, nullable=False),
        sa.Column("text_hash", sa.String(64), nullable=False),
        sa.Column("vector", sa.LargeBinary, nullable=False),
        sa.Column("tokens", sa.Text, nullable=False),
        sa.Column("encoded_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_record_vectors_encoder_side", "record_vectors", ["encoder", "side", "record_id"])


def downgrade() -> None:
    op.drop_index("ix_record_vectors_encoder_side", table_name="record_vectors")
    op.drop_table("record_vectors")
