"""Stored vectors: read and write `record_vectors`, the encoded form of every published record.

A record is encoded once per (normalised text, encoder) by whichever process may encode; every
other process builds its in-memory index from these rows. A row is valid for a record while its
`text_hash` equals the hash of the record's current document text: a record edited since it was
encoded keeps its old row until it is encoded again, and is never matched with a vector of a
text it no longer has. Rows of several encoders coexist (one per encoder name); every read here
names the encoder, so an index never mixes two.
"""

import hashlib
from collections.abc import Iterable, Iterator, Sequence
from typing import NamedTuple

import numpy as np
from sqlalchemy import Select, and_, func, or_, select
from sqlalchemy.orm import Session, aliased

from app.database import upsert, utcnow
from app.matching.models import RecordVector
from app.matching.vector_index import unit_rows
from app.sides import SIDES, listing_model

# How vectors are stored: float16, little-endian. A 512-d unit vector takes 1 KB instead of 2 KB,
# which halves the table and the bulk read of a fresh start; vectors are re-normalised in
# float32 after reading. Set it to "<f4" to store full precision (rows written in the other
# precision are then refused by `decode`, so re-run `techmatch reindex --force`).
VECTOR_DTYPE = np.dtype("<f2")
# Rows fetched per round trip by the bulk read (about 2 MB of vectors at 512 dimensions in float16).
BULK_CHUNK = 2_000
PUBLISHED = "published"


class StoredVector(NamedTuple):
    text_hash: str
    vector: np.ndarray  # float32, unit length
    tokens: list[str]


class Bulk(NamedTuple):
    """Every stored vector of one side and encoder, as arrays ready for the indexes."""

    ids: np.ndarray  # int64
    vectors: np.ndarray  # (n, dim) in VECTOR_DTYPE, as stored (VectorIndex.build makes them unit rows)
    tokens: list[str]  # space-separated BM25 tokens, one string per record
    hashes: list[str]


def text_hash(text: str) -> str:
    """The hash a stored vector is checked against: sha256 of the normalised document text."""
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def encode_vector(vector: np.ndarray) -> bytes:
    return np.ascontiguousarray(vector, dtype=VECTOR_DTYPE).tobytes()


def decode(blob: bytes, dim: int) -> np.ndarray:
    """One stored vector as a float32 unit vector."""
    if len(blob) != dim * VECTOR_DTYPE.itemsize:
        raise ValueError(f"a stored vector of {len(blob)} bytes is not {dim} values of {VECTOR_DTYPE}: run `techmatch reindex --force`")
    vector: np.ndarray = unit_rows(np.frombuffer(blob, dtype=VECTOR_DTYPE).reshape(1, dim))[0]
    return vector


def write(session: Session, *, side: str, encoder: str, rows: Sequence[tuple[int, str, np.ndarray, Sequence[str]]]) -> None:
    """Insert or replace the vectors of (record id, text hash, vector, tokens) rows, in the caller's transaction.

    An upsert, so two processes encoding the same record at once both succeed (the later wins;
    both computed the same vector).
    """
    if not rows:
        return
    now = utcnow()
    values = [
        {"side": side, "record_id": int(record_id), "encoder": encoder, "dim": int(len(vector)), "text_hash": digest,
         "vector": encode_vector(vector), "tokens": " ".join(tokens), "encoded_at": now}
        for record_id, digest, vector, tokens in rows
    ]
    upsert(session, RecordVector, values, ["side", "record_id", "encoder"])


def read(session: Session, *, side: str, encoder: str, ids: Iterable[int]) -> dict[int, StoredVector]:
    """The stored vectors of some records (those that have one for `encoder`)."""
    wanted = list(ids)
    if not wanted:
        return {}
    rows = session.execute(
        select(RecordVector.record_id, RecordVector.dim, RecordVector.text_hash, RecordVector.vector, RecordVector.tokens).where(
            RecordVector.side == side, RecordVector.encoder == encoder, RecordVector.record_id.in_(wanted)
        )
    ).all()
    return {row.record_id: StoredVector(row.text_hash, decode(row.vector, row.dim), row.tokens.split()) for row in rows}


def hashes(session: Session, *, side: str, encoder: str, ids: Iterable[int]) -> dict[int, str]:
    """The text hash of each stored vector among `ids` (to tell which records need encoding)."""
    wanted = list(ids)
    if not wanted:
        return {}
    return dict(
        session.execute(
            select(RecordVector.record_id, RecordVector.text_hash).where(
                RecordVector.side == side, RecordVector.encoder == encoder, RecordVector.record_id.in_(wanted)
            )
        ).all()
    )


def _published_rows(side: str, encoder: str) -> Select[int, str, bytes, str]:
    """Stored rows of `encoder` for the published records of `side` (a withdrawn record's row stays, unread)."""
    model = listing_model(side)
    return (
        select(RecordVector.record_id, RecordVector.text_hash, RecordVector.vector, RecordVector.tokens)
        .join(model, model.id == RecordVector.record_id)
        .where(RecordVector.side == side, RecordVector.encoder == encoder, model.status == PUBLISHED)
    )


def _chunks(session: Session, statement: Select[int, str, bytes, str]) -> Iterator[Sequence[tuple[int, str, bytes, str]]]:
    """Rows in chunks of BULK_CHUNK, streamed (a server-side cursor on PostgreSQL), never all in memory at once."""
    result = session.execute(statement.execution_options(stream_results=True, yield_per=BULK_CHUNK))
    yield from result.partitions(BULK_CHUNK)


def load_all(session: Session, *, side: str, encoder: str, dim: int) -> Bulk:
    """Every stored vector of `encoder` for the published records of `side`, fast.

    Rows stream in chunks; each chunk's vector bytes are joined and read with one
    np.frombuffer into a preallocated float16 matrix, left in that precision: the dense index
    converts and re-normalises it a slice at a time, so no float32 copy of every vector is made
    beside its own. A row of another dimension (an encoder directory replaced in place) is skipped.
    """
    total = session.scalar(select(func.count()).select_from(_published_rows(side, encoder).subquery())) or 0
    ids = np.empty(total, dtype=np.int64)
    stored = np.empty((total, dim), dtype=VECTOR_DTYPE)
    tokens: list[str] = []
    digests: list[str] = []
    size = dim * VECTOR_DTYPE.itemsize
    filled = 0
    for chunk in _chunks(session, _published_rows(side, encoder).order_by(RecordVector.record_id)):
        kept = [row for row in chunk if len(row[2]) == size][: total - filled]  # rows committed since the count wait
        if not kept:
            continue
        end = filled + len(kept)
        ids[filled:end] = [row[0] for row in kept]
        stored[filled:end] = np.frombuffer(b"".join(row[2] for row in kept), dtype=VECTOR_DTYPE).reshape(len(kept), dim)
        digests.extend(row[1] for row in kept)
        tokens.extend(row[3] for row in kept)
        filled = end
    return Bulk(ids[:filled], stored[:filled], tokens, digests)


def missing(session: Session, *, side: str, encoder: str, limit: int | None = None) -> list[int]:
    """Published records of `side` without a stored vector of `encoder`, oldest first."""
    model = listing_model(side)
    has_row = select(RecordVector.record_id).where(
        RecordVector.side == side, RecordVector.encoder == encoder, RecordVector.record_id == model.id
    )
    query = select(model.id).where(model.status == PUBLISHED, ~has_row.exists()).order_by(model.id).limit(limit)
    return list(session.scalars(query))


def count(session: Session, *, encoder: str) -> int:
    """How many vectors of `encoder` are stored, both sides (for reports)."""
    return session.scalar(select(func.count()).select_from(RecordVector).where(RecordVector.encoder == encoder)) or 0


def _lacking(side: str, serving: str, successor: str) -> Select[int]:
    """Published records of `side` whose row of `successor` is missing or of another text than
    their row of `serving`: the serving encoder's rows are kept current as records change, so
    they say what the successor's must be, in SQL (the text hash itself is computed in Python)."""
    model = listing_model(side)
    old, new = aliased(RecordVector), aliased(RecordVector)
    return (
        select(model.id)
        .outerjoin(old, and_(old.side == side, old.record_id == model.id, old.encoder == serving))
        .outerjoin(new, and_(new.side == side, new.record_id == model.id, new.encoder == successor))
        .where(model.status == PUBLISHED, or_(new.record_id.is_(None), new.text_hash != old.text_hash))
    )


def lacking(session: Session, *, side: str, serving: str, successor: str, limit: int) -> list[int]:
    """Up to `limit` records of `side` that `_lacking` names, oldest first."""
    return list(session.scalars(_lacking(side, serving, successor).order_by(listing_model(side).id).limit(limit)))


def count_lacking(session: Session, *, serving: str, successor: str) -> int:
    """How many published records (both sides) `_lacking` names: 0 when the successor can take over."""
    return sum(
        session.scalar(select(func.count()).select_from(_lacking(side, serving, successor).subquery())) or 0 for side in SIDES
    )
