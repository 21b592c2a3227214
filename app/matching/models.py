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


class StoredEncoder(Base):
    """How to load again an encoder whose vectors are stored (已存向量的编码器), one row per name.

    The directory is the model directory's name, not its path: every machine keeps its models in
    its own folder (the parent of TECHMATCH_ENCODER). Written by the processes that store vectors
    under the name, so a process configured with another encoder can keep serving from these
    vectors while its own are made (see rollout.py). Prefixes are NULL where they are not known
    (encoders registered by migration 0016): the configured ones are used.

    `served_since` is when the deployment began serving the encoder: the first encoding process
    of a deployment without a rollout, or the one that found a successor's vectors complete. The
    encoder served most recently is the one every process serves until its own configured
    encoder's vectors are complete.
    """

    __tablename__ = "stored_encoders"

    name: Mapped[str] = mapped_column(String(200), primary_key=True)
    directory: Mapped[str] = mapped_column(String(200))
    backend: Mapped[str] = mapped_column(String(20))
    max_tokens: Mapped[int]
    query_prefix: Mapped[str | None] = mapped_column(Text)
    document_prefix: Mapped[str | None] = mapped_column(Text)
    dim: Mapped[int]
    registered_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    served_since: Mapped[datetime | None] = mapped_column(UTCDateTime)


class IndexSnapshot(Base):
    """The latest snapshot (索引快照) of one encoder's whole matching index, at one change-log position.

    Written by an encoding process (role `all` or `worker`) when it is caught up; a process
    whose data directory holds no index (a new replica, a restart on an empty directory) loads
    it in one read and replays the change log after `applied_seq`, instead of rebuilding the
    indexes from every stored row. Its arrays are the rows of `index_snapshot_parts`.
    """

    __tablename__ = "index_snapshots"

    encoder: Mapped[str] = mapped_column(String(200), primary_key=True)
    dim: Mapped[int]
    applied_seq: Mapped[int]
    written_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class IndexSnapshotPart(Base):
    """One slice of one named array of a side in a snapshot. An array is cut into parts of at most
    `snapshot.PART_BYTES` (PostgreSQL refuses a value over 1 GB; 10⁶ vectors are 1 GB)."""

    __tablename__ = "index_snapshot_parts"

    encoder: Mapped[str] = mapped_column(String(200), primary_key=True)
    side: Mapped[str] = mapped_column(String(20), primary_key=True)
    name: Mapped[str] = mapped_column(String(40), primary_key=True)
    part: Mapped[int] = mapped_column(primary_key=True)
    dtype: Mapped[str] = mapped_column(String(10))  # numpy dtype string, e.g. "<f2"
    shape: Mapped[str] = mapped_column(String(40))  # the whole array's shape, e.g. "100000,512"
    data: Mapped[bytes] = mapped_column(LargeBinary)
