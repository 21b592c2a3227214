"""Stored vectors (记录向量): every encoded record's vector, kept in the database beside it.

A record is encoded once per (normalised text, encoder): any process builds its in-memory index
from these rows and re-encodes only a record whose text hash or encoder differs. Rows of several
encoders may coexist while a new encoder is rolled out; an index only ever reads one of them.
"""

from datetime import datetime

from sqlalchemy import Index, LargeBinary, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from app.database import Base, UTCDateTime, utcnow


class RecordVector(Base):
    __tablename__ = "record_vectors"
    __table_args__ = (Index("ix_record_vectors_encoder_side", "encoder", "side", "record_id"),)

    side: Mapped[str] = mapped_column(String(20), primary_key=True)
    record_id: Mapped[int] = mapped_column(primary_key=True)
    encoder: Mapped[str] = mapped_column(String(200), primary_key=True)
    dim: Mapped[int]
    # sha256 (hex) of the normalised document text the vector was computed from.
    text_hash: Mapped[str] = mapped_column(String(64))
    # The unit vector, little-endian, in the precision the store chose (see the store module).
    vector: Mapped[bytes] = mapped_column(LargeBinary)
    # The record's BM25 tokens, space-separated, so a new process builds its lexical index
    # without tokenising every text again.
    tokens: Mapped[str] = mapped_column(Text, default="")
    encoded_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
