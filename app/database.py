"""Engine, sessions and the declarative base.

One session per request, committed at the edge (see `session_scope`) so that a request that
fails at any step leaves nothing half-written.

Read-check-write is atomic on both databases. On PostgreSQL the services lock the rows they
change (`SELECT … FOR UPDATE`, see `lock_row`). SQLite ignores FOR UPDATE, and a deferred
transaction that read a row may later write over a newer version of it; so every SQLite
transaction starts with `BEGIN IMMEDIATE` (it takes the database's one write lock before its
first read) unless the session was opened read-only (`read_only=True`: GET requests and the
index keeper), which starts a plain `BEGIN` and never blocks a writer under WAL.
"""

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from sqlite3 import Connection as SQLiteConnection
from typing import Any, TypeVar

from sqlalchemy import Connection, DateTime, Dialect, Engine, create_engine, event
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import DeclarativeBase, Session, sessionmaker
from sqlalchemy.types import TypeDecorator

T = TypeVar("T")


def utcnow() -> datetime:
    return datetime.now(UTC)


class UTCDateTime(TypeDecorator[datetime]):
    """Timezone-aware UTC timestamps on both SQLite (which drops the zone) and PostgreSQL."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            value = value.replace(tzinfo=UTC)
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


class Base(DeclarativeBase):
    pass


# Execution option set on read-only sessions' connections (see the module docstring).
READ_ONLY = "techmatch_read_only"


def _tune_sqlite(dbapi_connection: SQLiteConnection, _record: Any) -> None:
    """WAL lets readers proceed during a write; foreign keys are off in SQLite unless asked.

    `isolation_level = None` stops the driver from issuing its own deferred BEGIN, so that
    `_begin_sqlite` decides how each transaction starts.
    """
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=10000")
    cursor.close()


def _begin_sqlite(connection: Connection) -> None:
    """Writers take the write lock before reading anything; read-only sessions never take it."""
    read_only = connection.get_execution_options().get(READ_ONLY, False)
    connection.exec_driver_sql("BEGIN" if read_only else "BEGIN IMMEDIATE")


def make_engine(url: str, *, pool_size: int = 5, pool_timeout: float = 30.0) -> Engine:
    """An engine for `url`; SQLite files get WAL mode and their folder is created.

    The pool never grows past `pool_size` (no overflow): the service sizes it to the requests
    it admits at once plus its background workers, so a request never waits for a connection
    in normal operation; past `pool_timeout` seconds the wait ends in a 503.
    """
    pool = {"pool_size": pool_size, "max_overflow": 0, "pool_timeout": pool_timeout}
    if url.startswith("sqlite"):
        engine = create_engine(url, connect_args={"check_same_thread": False}, **pool)
        event.listen(engine, "connect", _tune_sqlite)
        event.listen(engine, "begin", _begin_sqlite)
        database = engine.url.database
        if database and database != ":memory:":
            from pathlib import Path

            Path(database).parent.mkdir(parents=True, exist_ok=True)
        return engine
    if url.startswith("postgresql://"):
        url = "postgresql+psycopg://" + url.removeprefix("postgresql://")
    return create_engine(url, pool_pre_ping=True, **pool)


def make_session_factory(engine: Engine) -> sessionmaker[Session]:
    return sessionmaker(engine, expire_on_commit=False)


def new_session(factory: sessionmaker[Session], *, read_only: bool = False) -> Session:
    """A session of `factory`; a read-only one never takes SQLite's write lock."""
    if not read_only:
        return factory()
    engine = factory.kw["bind"]
    return factory(bind=engine.execution_options(**{READ_ONLY: True}))


def lock_row(session: Session, model: type[T], row_id: int) -> T | None:
    """The row `row_id` of `model`, re-read and locked until commit (None when missing).

    PostgreSQL: `SELECT … FOR UPDATE` waits for a concurrent writer of the row and then reads
    its committed state. SQLite: the transaction already holds the write lock (BEGIN IMMEDIATE),
    so the plain read is current.
    """
    return session.get(model, row_id, with_for_update=True, populate_existing=True)


def upsert(session: Session, model: type[Base], rows: list[dict[str, Any]], keys: list[str]) -> None:
    """Insert `rows` (dicts of the same columns), replacing the other columns of rows already
    there under the same `keys`, in the caller's transaction (ON CONFLICT, on either database)."""
    insert = postgresql_insert if session.get_bind().dialect.name == "postgresql" else sqlite_insert
    statement = insert(model).values(rows)
    replaced = {column: statement.excluded[column] for column in rows[0] if column not in keys}
    session.execute(statement.on_conflict_do_update(index_elements=keys, set_=replaced))


@contextmanager
def session_scope(factory: sessionmaker[Session], *, read_only: bool = False) -> Iterator[Session]:
    """One transaction: commit if the block succeeds, roll back if it raises."""
    session = new_session(factory, read_only=read_only)
    try:
        yield session
        session.commit()
    except BaseException:
        session.rollback()
        raise
    finally:
        session.close()
