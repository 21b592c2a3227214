"""Stored encoders: how to load again each encoder whose vectors are stored

One row per encoder name of `record_vectors`: the model directory's name (not its path: each
machine keeps its models in its own folder), the backend, the token limit, the two prefixes and
the dimension, and since when the deployment serves it. A process whose configured encoder is
not the one served most recently serves that one while its own encoder's vectors are made
(app/matching/rollout.py). Encoding
processes register their encoder when they start and when they store vectors; the encoders of
the vectors already stored are registered here, so a deployment that upgrades and changes its
encoder in one restart (the default backend became onnx-int8 with this revision) keeps serving
its stored vectors meanwhile. Before this revision a name was the model directory's name, plus
"/onnx-int8" for the int8 copy, always at 256 tokens; prefixes are left NULL (the configured
ones), and the encoder with the most vectors is marked as the one served.

Revision ID: 0016
Revises: 0015
Create Date: 2026-11-26
"""

import sqlalchemy as sa
from alembic import op

revision = "0016"
down_revision = "0015"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "stored_encoders",
        sa.Column("name", sa.String(200), primary_key=True),
        sa.Column("directory", sa.String(200), nullable=False),
        sa.Column("backend", sa.String(20), nullable=False),
        sa.Column("max_tokens", sa.Integer, nullable=False),
        sa.Column("query_prefix", sa.Text, nullable=True),
        sa.Column("document_prefix", sa.Text, nullable=True),
        sa.Column("dim", sa.Integer, nullable=False),
        sa.Column("registered_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("served_since", sa.DateTime(timezone=True), nullable=True),
    )
    connection = op.get_bind()
    stored = connection.execute(
        sa.text("SELECT encoder, MIN(dim), COUNT(*) FROM record_vectors GROUP BY encoder ORDER BY COUNT(*) DESC, encoder")
    ).all()
    served = True  # the encoder with the most vectors is the one the deployment serves
    for name, dim, _ in stored:
        directory, _, variant = name.partition("/")
        if variant not in ("", "onnx-int8"):
            continue  # not a name this service gave: nothing is known about how to load it
        connection.execute(
            sa.text(
                "INSERT INTO stored_encoders (name, directory, backend, max_tokens, dim, registered_at, served_since)"
                f" VALUES (:name, :directory, :backend, 256, :dim, CURRENT_TIMESTAMP, {'CURRENT_TIMESTAMP' if served else 'NULL'})"
            ),
            {"name": name, "directory": directory, "backend": variant or "torch", "dim": dim},
        )
        served = False


def downgrade() -> None:
    op.drop_table("stored_encoders")
