"""Keeps the in-memory MatchEngine in step with the database, through the change log.

The database is the source of truth. The keeper remembers the last change-log entry it applied
(`applied_seq`), saves it with the index files, and catches up by re-reading the *current*
state of every record named after it: published records are (re-)indexed, anything else
(draft, closed, withdrawn, deleted) is removed. Replaying an entry twice is therefore
harmless, which is what makes crash recovery and several worker processes simple.

Who calls `catch_up`: the request that wrote a change, right after its commit (a few changes,
tens of milliseconds, so a new record is matchable when its creation returns), and a
background thread that drains large backlogs (bulk imports) and saves the index files. A
match request only calls `refresh`: with its own session, when no one else is applying, it
applies the next few changes (other processes' writes); it never waits and never encodes more
than `MATCH_CATCH_UP` records.
"""

import logging
import shutil
import threading
import time
from functools import lru_cache
from pathlib import Path

from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from app.background import PeriodicWorker
from app.catalog.codes import FIELDS
from app.changelog import IndexChange
from app.config import Settings
from app.database import session_scope
from app.listings.models import ListingColumns
from app.matching.encoder import Backend, Encoder, load_encoder
from app.matching.engine import MatchEngine
from app.sides import SIDES, listing_model

log = logging.getLogger("techmatch.index")

MODELS: dict[str, type[ListingColumns]] = {side: listing_model(side) for side in SIDES}
INDEXED_STATUS = "published"
BATCH = 128
# How many pending changes a request applies itself, and how long it waits for the lock;
# a larger backlog is the worker's.
INLINE_CATCH_UP = 200
INLINE_WAIT_SECONDS = 2.0
# How many pending changes a match request applies, at most, before it searches.
MATCH_CATCH_UP = 8


@lru_cache(maxsize=4)
def cached_encoder(path: Path, query_prefix: str, document_prefix: str, threads: int, backend: Backend = "onnx-int8") -> Encoder:
    """Load each encoder once per process (tests and the CLI open several keepers)."""
    return load_encoder(path, query_prefix=query_prefix, document_prefix=document_prefix, threads=threads, backend=backend)


def domain_terms() -> list[str]:
    """Words jieba must keep whole: the industry field names (汽车, 零部件, 碳纤维, …)."""
    terms: set[str] = set()
    for label in FIELDS.values():
        terms.update(part for part in label.replace("及", "/").split("/") if len(part) > 1)
    return sorted(terms)


def _siblings(directory: Path) -> tuple[Path, Path]:
    return directory.with_name(directory.name + ".new"), directory.with_name(directory.name + ".old")


def recover_interrupted_save(directory: Path) -> None:
    """Leave only `directory` (or nothing) on disk, whatever step of `save` a crash interrupted.

    `save` writes `index.new`, renames `index` to `index.old`, renames `index.new` to `index`,
    then deletes `index.old`. So:
    - `index` exists: it is complete (the last swap finished); leftovers are a half-written
      `index.new` or an undeleted `index.old`, both discarded;
    - no `index`, but `index.old`: the crash fell between the two renames, so `index.new`, if
      present, was written in full (the first rename only happens after it) and is the newer of
      the two; without `index.new`, `index.old` is the index;
    - no `index` and no `index.old`: a first save was cut short; `index.new` may be partial and
      is discarded (the change log rebuilds everything from the start).
    """
    staging, previous = _siblings(directory)
    if not directory.exists() and previous.exists():
        (staging if staging.exists() else previous).rename(directory)
    for leftover in (staging, previous):
        if leftover.exists():
            shutil.rmtree(leftover)


class IndexKeeper:
    def __init__(self, engine: MatchEngine, session_factory: sessionmaker[Session], directory: Path, save_every: int):
        self.engine = engine
        self.session_factory = session_factory
        self.directory = directory
        self.save_every = save_every
        self.applied_seq = engine.applied_seq
        self.unsaved = 0  # changes applied since the last save
        self._lock = threading.RLock()
        engine.add_terms(domain_terms())

    @classmethod
    def open(cls, settings: Settings, session_factory: sessionmaker[Session], *, fresh: bool = False) -> "IndexKeeper":
        """The saved index under the data directory (or an empty one), ready to catch up.

        Raises IndexMismatchError when the saved index was built by another encoder.
        """
        encoder = cached_encoder(
            Path(settings.encoder), settings.encoder_query_prefix, settings.encoder_document_prefix, settings.encoder_threads,
            settings.encoder_backend,
        )
        directory = settings.index_dir
        recover_interrupted_save(directory)
        engine = MatchEngine(encoder, index_kind=settings.index_kind)
        if not fresh and (directory / "terms.json").is_file():
            saved = MatchEngine.load(directory, encoder, index_kind=settings.index_kind)
            with session_scope(session_factory, read_only=True) as session:
                last = session.scalar(select(func.max(IndexChange.seq))) or 0
            if saved.applied_seq <= last:
                engine = saved
            else:  # the database is older than the index (restored backup): trust the database
                log.warning("index is at change %d but the database ends at %d: rebuilding", saved.applied_seq, last)
        return cls(engine, session_factory, directory, settings.index_save_every)

    def catch_up(
        self, limit: int | None = None, show_progress: bool = False, wait: float | None = None, until: int | None = None
    ) -> int:
        """Apply change-log entries after `applied_seq`, at most `limit`; returns how many.

        Works batch by batch, taking the lock for one batch at a time, so a long backlog never
        holds up searches. With `wait` (seconds), gives up when another thread keeps the lock
        that long: that thread is applying the same log in order, so nothing is lost. With
        `until`, stops once that position is applied (a writer waits for its own change, not for
        the ones written after it).
        """
        applied = 0
        while limit is None or applied < limit:
            if not self._lock.acquire(timeout=-1 if wait is None else wait):
                break
            try:
                size = BATCH if limit is None else min(BATCH, limit - applied)
                if until is not None:
                    if self.applied_seq >= until:
                        break
                    size = min(size, until - self.applied_seq)  # no further than `until` (at most)
                done = self._apply_batch(size, show_progress)
            finally:
                self._lock.release()
            if not done:
                break
            applied += done
        return applied

    def refresh(self, session: Session) -> None:
        """A match request's cheap check: apply up to `MATCH_CATCH_UP` changes with the request's
        own session (one connection per request), unless another thread is applying already."""
        if not self._lock.acquire(blocking=False):
            return
        try:
            self._apply_batch(MATCH_CATCH_UP, False, session=session)
        finally:
            self._lock.release()

    def _apply_batch(self, size: int, show_progress: bool, session: Session | None = None) -> int:
        if session is None:
            with session_scope(self.session_factory, read_only=True) as own_session:
                return self._apply_batch(size, show_progress, session=own_session)
        rows = session.execute(
            select(IndexChange.seq, IndexChange.side, IndexChange.record_id)
            .where(IndexChange.seq > self.applied_seq)
            .order_by(IndexChange.seq)
            .limit(size)
        ).all()
        for side, model in MODELS.items():
            self._apply(session, side, model, {row.record_id for row in rows if row.side == side}, show_progress)
        if rows:
            self.applied_seq = rows[-1].seq
            self.unsaved += len(rows)
        return len(rows)

    def _apply(self, session: Session, side: str, model: type[ListingColumns], ids: set[int], show_progress: bool) -> None:
        if not ids:
            return
        live = session.scalars(select(model).where(model.id.in_(ids), model.status == INDEXED_STATUS)).all()
        for gone in ids - {record.id for record in live}:
            self.engine.remove(side, gone)
        self.engine.add_terms(keyword for record in live for keyword in record.keywords)
        self.engine.upsert_many(side, [(record.id, *record.searchable_text()) for record in live], show_progress=show_progress)

    def pending(self, session: Session | None = None) -> dict[str, int]:
        """Per side, the committed changes not yet applied (read with `session` when given)."""
        if session is None:
            with session_scope(self.session_factory, read_only=True) as own_session:
                return self.pending(own_session)
        counts = dict(
            session.execute(
                select(IndexChange.side, func.count()).where(IndexChange.seq > self.applied_seq).group_by(IndexChange.side)
            ).all()
        )
        return {side: counts.get(side, 0) for side in MODELS}

    def save(self) -> None:
        """Write the index files into a new folder, then swap folders, so a crash at any
        point leaves one complete index on disk (old or new), never a mix of the two
        (`recover_interrupted_save` tells which; it also runs first here, so a save that
        failed half-way never blocks the next one)."""
        staging, previous = _siblings(self.directory)
        with self._lock:
            recover_interrupted_save(self.directory)
            self.engine.save(staging, applied_seq=self.applied_seq)
            replacing = self.directory.exists()
            if replacing:
                self.directory.rename(previous)
            staging.rename(self.directory)
            if replacing:
                shutil.rmtree(previous)
            self.unsaved = 0
        log.info("index saved at change %d", self.applied_seq)

    def rebuild(self, show_progress: bool = True) -> int:
        """Re-encode every published record from scratch (`techmatch reindex`); returns the count.

        The change-log position is read first: changes committed while this runs are replayed
        afterwards, and replaying one that was already seen is harmless.
        """
        from tqdm import tqdm

        with self._lock, session_scope(self.session_factory, read_only=True) as session:
            self.applied_seq = session.scalar(select(func.max(IndexChange.seq))) or 0
            total = 0
            for side, model in MODELS.items():
                published = select(model).where(model.status == INDEXED_STATUS).order_by(model.id)
                count = session.execute(select(func.count()).select_from(published.subquery())).scalar_one()
                with tqdm(total=count, desc=f"indexing {side}", unit="rec", disable=not show_progress) as bar:
                    for batch in session.scalars(published.execution_options(yield_per=BATCH)).partitions():
                        self.engine.add_terms(keyword for record in batch for keyword in record.keywords)
                        self.engine.upsert_many(side, [(r.id, *r.searchable_text()) for r in batch])
                        bar.update(len(batch))
                total += count
        self.catch_up()
        self.save()
        return total


class IndexWorker(PeriodicWorker):
    """Applies the change log in the background, batch by batch, and saves the index files.

    A save follows every `save_every` applied changes, so a crash during a long catch-up (a
    bulk import) costs at most that much replay, and another when the log is drained. Asked
    to stop, it finishes the batch in hand, saves, and leaves the rest of the backlog to the
    next start: shutting down never waits for a backlog.
    """

    name = "index-keeper"

    def __init__(self, keeper: IndexKeeper, interval: float):
        super().__init__(interval, log)
        self.keeper = keeper

    def run_once(self) -> int:
        started = time.perf_counter()
        applied = 0
        while True:
            done = self.keeper.catch_up(limit=BATCH)
            applied += done
            finished = not done or self.stopping
            if self.keeper.unsaved >= self.keeper.save_every or (finished and self.keeper.unsaved):
                self.keeper.save()
            if finished:
                break
        if applied:
            log.info("applied %d changes in %.1fs", applied, time.perf_counter() - started)
        return applied

    def stop(self) -> None:
        """Stop after the current batch and save what requests applied since the last save."""
        super().stop()
        if self.keeper.unsaved:
            self.keeper.save()
