"""The index change log (索引变更日志): one row per change to a record's searchable state.

A neutral module: the listings write it, the matching index reads it, and neither imports the
other (request → service → database → change log → index, one way).

It is written in the same transaction as the change itself, so the database alone says what
the FAISS and BM25 indexes must contain; an index that saved `applied_seq = n` catches up by
replaying the rows after n.
"""

from datetime import datetime

from sqlalchemy import Index, String, func, select, text
from sqlalchemy.orm import Mapped, Session, mapped_column

from app.database import Base, UTCDateTime, utcnow

# The change-log rows a transaction wrote, kept in `Session.info` so that the request applies
# them (and only what precedes them) right after its commit.
INDEX_CHANGES = "index_changes"
# Any constant works; it only has to be the same in every process writing the log.
_CHANGE_LOG_LOCK = 728_301


class IndexChange(Base):
    __tablename__ = "index_changes"
    # AUTOINCREMENT: SQLite must never hand out a sequence number twice.
    __table_args__ = (Index("ix_index_changes_side_seq", "side", "seq"), {"sqlite_autoincrement": True})

    seq: Mapped[int] = mapped_column(primary_key=True)
    side: Mapped[str] = mapped_column(String(20))
    record_id: Mapped[int]
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


def log_change(session: Session, *, side: str, record_id: int) -> None:
    """Note that `record_id` of `side` changed, in the caller's transaction.

    On PostgreSQL a sequence hands out numbers in insert order, not commit order, so a reader
    could see seq 11 committed before seq 10 and skip 10 for ever. A transaction-scoped
    advisory lock, taken before the insert and held until commit, makes the two orders equal.
    SQLite already serialises writers.
    """
    if session.get_bind().dialect.name == "postgresql":
        session.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _CHANGE_LOG_LOCK})
    change = IndexChange(side=side, record_id=record_id)
    session.add(change)
    session.info.setdefault(INDEX_CHANGES, []).append(change)


def last_seq(session: Session) -> int:
    """The change log's last position as the session sees it (0 while the log is empty)."""
    return session.scalar(select(func.max(IndexChange.seq))) or 0


def last_logged(session: Session) -> int | None:
    """The highest change-log position the session's committed transaction wrote, or None."""
    changes = session.info.get(INDEX_CHANGES)
    return max(change.seq for change in changes) if changes else None


def logged_records(session: Session) -> set[tuple[str, int]]:
    """The (side, record id) pairs the session's committed transaction logged: the records a writing request may encode itself."""
    return {(change.side, change.record_id) for change in session.info.get(INDEX_CHANGES, [])}
