"""Encoding claims (编码认领): the processes that encode divide the records among them.

Every encoding process (role `all` or `worker`) follows the whole change log, so without a claim
two workers would both encode each new record, and a bulk import would be encoded no faster with
more workers. Before it encodes a batch, a process takes a transaction-level advisory lock per
record on PostgreSQL (`pg_try_advisory_xact_lock`, which never waits), in a transaction of its
own that it holds until the batch's vectors are stored. A record another process holds is left
to it: that process's change-log entry brings the stored vector here, and meanwhile the record
waits in the keeper's backlog, which tries it again (a lock goes with its connection, so the
records of a process that died are free at once). SQLite serves one process: every record is
claimed.
"""

from collections.abc import Collection, Iterator
from contextlib import contextmanager

from sqlalchemy import bindparam, text
from sqlalchemy.dialects.postgresql import ARRAY, BIGINT
from sqlalchemy.orm import Session, sessionmaker

from app.database import new_session
from app.sides import SIDES

# Lock keys: the side's number above bit 48, the record id below it (ids stay far below 2⁴⁸), so
# they never meet the change log's own lock key (changelog.py), a small number.
_SIDE_KEYS: dict[str, int] = {side: (number + 1) << 48 for number, side in enumerate(SIDES)}

_CLAIM = text("SELECT id FROM unnest(:ids) AS claimed(id) WHERE pg_try_advisory_xact_lock(:base + id)").bindparams(
    bindparam("ids", type_=ARRAY(BIGINT))
)


def divided(session_factory: sessionmaker[Session]) -> bool:
    """Whether several processes may encode at once: on PostgreSQL (SQLite serves one)."""
    return bool(session_factory.kw["bind"].dialect.name == "postgresql")


@contextmanager
def claim(session_factory: sessionmaker[Session], side: str, ids: Collection[int]) -> Iterator[set[int]]:
    """The ids of `ids` this process may encode now, held by it until the block ends (one more
    connection meanwhile, on PostgreSQL)."""
    if not divided(session_factory):
        yield set(ids)
        return
    session = new_session(session_factory)
    try:
        yield set(session.scalars(_CLAIM, {"ids": list(ids), "base": _SIDE_KEYS[side]}))
    finally:
        session.rollback()  # ends the transaction: the locks go with it
        session.close()
