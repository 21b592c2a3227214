"""Keeps the in-memory MatchEngine in step with the database, through the change log.

The database is the source of truth, vectors included: `record_vectors` (store.py) holds each
published record's vector and BM25 tokens, computed once per text and encoder. The keeper
remembers the last change-log entry it applied (`applied_seq`), saves it with the local index
files, and catches up by re-reading the *current* state of every record named after it:
- not published (draft, closed, withdrawn, deleted): removed;
- published, with a stored vector of this encoder for its current text (same hash): indexed
  from the stored vector and tokens, never encoded again;
- published without one: encoded, stored, and logged again (so every other process learns
  the vector exists) if this keeper may encode: role `all` or `worker`, or the writing request
  for its own records. Otherwise it is left as it is (its old version, or not yet indexed)
  until the encoding process's log entry arrives.
Replaying an entry twice is harmless, which makes crash recovery and many processes simple.

Who calls `catch_up`: the request that wrote a change, right after its commit (encoding only
its own records, so a new record is matchable when its creation returns), and a background
thread that drains backlogs and saves the index files. A match request only calls `refresh`:
with its own session, when no one else is applying, it applies the next few changes from stored
vectors; it never waits and never encodes.

A process whose data directory holds no index of its encoder (or an older one) loads the index
snapshot an encoding process stored in the database (`load_snapshot`, snapshot.py), or without
one builds the index from the stored rows (`load_stored`); either way nothing is encoded.

A process configured with another encoder than the one the deployment serves serves that one
until the configured one's vectors are all stored, then switches (see rollout.py,
`encode_successor` and `switch`).
"""

import logging
import shutil
import threading
import time
from collections.abc import Callable, Collection, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager, nullcontext
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np
from sqlalchemy import Row, func, select
from sqlalchemy.orm import Session, sessionmaker

from app.background import PeriodicWorker
from app.catalog.codes import FIELDS
from app.changelog import IndexChange, last_logged, last_seq, log_change
from app.config import Settings
from app.database import session_scope
from app.listings.models import ListingColumns
from app.matching import claims, rollout, snapshot, store
from app.matching.encoder import DEFAULT_BACKEND, DEFAULT_MAX_SEQ_LENGTH, Backend, Encoder, load_encoder
from app.matching.engine import MatchEngine
from app.matching.lexical import jieba_dictionary
from app.matching.rollout import EncoderSetup
from app.matching.text import document_text
from app.matching.vector_index import IndexMismatchError, unit_rows
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
# Records read, encoded and stored per transaction by `techmatch reindex`.
REINDEX_BATCH = 256
# GET /health answers `ready` (200) while fewer changes than this are pending, 503 otherwise. A
# process applying stored vectors goes through a thousand changes in about a second, so one
# further behind is starting up, or is the one encoding a bulk import: its matches would miss
# records that other processes already match.
READY_BEHIND = 1000


def _load_models(setup: EncoderSetup) -> Encoder:
    """The encoder, and jieba's dictionary (read once per process, see lexical.jieba_dictionary)."""
    encoder = load(setup)
    jieba_dictionary()
    return encoder


def load(setup: EncoderSetup) -> Encoder:
    """The encoder of `setup`, loaded once per process."""
    return cached_encoder(setup.directory, setup.query_prefix, setup.document_prefix, setup.threads, setup.backend,
                          setup.max_tokens)


@lru_cache(maxsize=4)
def cached_encoder(path: Path, query_prefix: str, document_prefix: str, threads: int, backend: Backend = DEFAULT_BACKEND,
                   max_tokens: int = DEFAULT_MAX_SEQ_LENGTH) -> Encoder:
    """Load each encoder once per process (tests and the CLI open several keepers)."""
    return load_encoder(path, query_prefix=query_prefix, document_prefix=document_prefix, max_seq_length=max_tokens,
                        threads=threads, backend=backend)


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
    def __init__(self, engine: MatchEngine, session_factory: sessionmaker[Session], directory: Path, save_every: int,
                 may_encode: bool = True, snapshot_every: int = 0, setup: EncoderSetup | None = None,
                 successor: EncoderSetup | None = None, index_options: dict[str, Any] | None = None):
        self.engine = engine
        # How the engine's encoder loads, registered with the vectors this keeper stores (None: an
        # encoder made in code, which no other process could load).
        self.setup = setup
        # The configured encoder, while the engine serves a previous one (see rollout.py), and how
        # many published records lack its vectors, as last counted by `switch` (GET /health).
        self.successor = successor
        self.lacking: int | None = None
        self.index_options = index_options or {}  # MatchEngine's index_kind and index_nprobe, for `switch`
        self._registered: set[str] = set()  # encoder names this process registered
        self.session_factory = session_factory
        self.directory = directory
        self.save_every = save_every
        # Whether changes applied from the log may be encoded here (role all/worker). A writing
        # request encodes its own records either way; `refresh` never encodes.
        self.may_encode = may_encode
        # Changes applied between two index snapshots written to the database (0: never; see snapshot.py).
        self.snapshot_every = snapshot_every
        self.snapshot_seq = 0  # the position of the stored snapshot, as last seen
        self.applied_seq = engine.applied_seq
        self.unsaved = 0  # changes applied since the last save
        self.encoded = 0  # documents this keeper encoded since it was opened (GET /health's encoded_here)
        # Published records a pass of an encoding process could not encode (a match request's
        # refresh): the index worker encodes them (`encode_backlog`).
        self.backlog: set[tuple[str, int]] = set()
        self.keywords_pending = False  # see load_stored
        # Where the index came from at start: "data directory", "snapshot", "stored vectors" or "change log".
        self.started_from = "data directory"
        self._lock = threading.RLock()
        engine.add_terms(domain_terms())

    @classmethod
    def open(cls, settings: Settings, session_factory: sessionmaker[Session], *, fresh: bool = False,
             build: bool = True) -> "IndexKeeper":
        """The newer of the index saved under the data directory and the snapshot stored in the
        database, or else one built from the stored vectors; the log is replayed from there.

        An index is usable when it is of the serving encoder and not ahead of the database (a
        restored older database); with `fresh` neither is used and the index is built from the
        stored rows of the serving encoder (unless `build` is false: `techmatch reindex` encodes
        first, with the configured encoder, and builds after). Nothing is encoded either way.
        The serving encoder is the configured one, or during a rollout a previous one
        (`rollout.previous`). It and the jieba dictionary load on a thread of their own
        meanwhile: the snapshot's rows arrive from the database while the model is read. An
        encoding process registers the serving encoder (`rollout.register`), as the served one
        when the deployment serves none yet.
        """
        configured = EncoderSetup.configured(settings)
        previous = None
        if build:
            with session_scope(session_factory, read_only=True) as session:
                previous = rollout.previous(session, configured)
        setup = previous or configured
        with ThreadPoolExecutor(max_workers=1, thread_name_prefix="encoder-load") as pool:
            loading = pool.submit(_load_models, setup)
            name = setup.name
            directory = settings.index_dir
            recover_interrupted_save(directory)
            with session_scope(session_factory, read_only=True) as session:
                last = last_seq(session)
                shared = snapshot.position(session, encoder=name)
                # A SQLite database serves one process and usually lives in its data directory:
                # a snapshot would only duplicate the index files saved next to it.
                shares = session.get_bind().dialect.name != "sqlite"
            local = None if fresh else MatchEngine.saved_position(directory, name)
            if local is not None and local > last:  # the database is older than the index (restored backup): trust the database
                log.warning("index is at change %d but the database ends at %d: not using it", local, last)
                local = None
            found = None
            if not fresh and shared is not None and shared <= last and (local is None or shared > local):
                with session_scope(session_factory, read_only=True) as session:
                    found = snapshot.read(session, encoder=name)
            encoder = loading.result()
        saved = cls._saved_engine(settings, encoder) if local is not None and found is None else None
        engine = saved or MatchEngine(encoder, index_kind=settings.index_kind, index_nprobe=settings.index_nprobe)
        keeper = cls(engine, session_factory, directory, settings.index_save_every, may_encode=settings.role != "serve",
                     snapshot_every=settings.index_snapshot_every if shares else 0, setup=setup,
                     successor=configured if previous else None,
                     index_options={"index_kind": settings.index_kind, "index_nprobe": settings.index_nprobe})
        keeper.snapshot_seq = shared or 0
        if found is not None and (found.dim, name) == (encoder.dim, encoder.name):
            keeper.load_snapshot(found)
        elif saved is None and build:
            keeper.load_stored()
        if keeper.may_encode:
            with session_scope(session_factory) as session:
                keeper._register(session, setup, encoder, first=True)
            keeper._registered.add(encoder.name)
        return keeper

    @staticmethod
    def _saved_engine(settings: Settings, encoder: Encoder) -> MatchEngine | None:
        try:
            return MatchEngine.load(settings.index_dir, encoder, index_kind=settings.index_kind,
                                    index_nprobe=settings.index_nprobe)
        except IndexMismatchError as error:
            log.warning("%s: building the index from the stored vectors of %s instead", error, encoder.name)
            return None

    def load_snapshot(self, found: snapshot.Snapshot) -> int:
        """Replace the whole index with a stored snapshot; returns the count. Its vectors are in the
        store's precision, normalised as the index takes them in, as in a build from the stored
        rows. As after `load_stored`, the log is replayed from the snapshot's position and the
        keywords are learnt in the background."""
        started = time.perf_counter()
        total = 0
        with self._lock:
            for side in MODELS:
                arrays = found.sides.get(side)
                if arrays is None:
                    continue
                self.engine.import_side(side, arrays)
                total += len(arrays["ids"])
            self.applied_seq = self.snapshot_seq = found.applied_seq
            self.started_from = "snapshot"
            self.unsaved = max(self.unsaved, 1)  # the local files no longer match: the next worker pass saves
            self.keywords_pending = True
        log.info("index loaded from the stored snapshot (%d records) in %.1fs, at change %d", total,
                 time.perf_counter() - started, found.applied_seq)
        return total

    @property
    def snapshot_due(self) -> bool:
        """Whether enough changes were applied since the stored snapshot to write another."""
        return bool(self.snapshot_every) and self.applied_seq - self.snapshot_seq >= self.snapshot_every

    def write_snapshot(self) -> bool:
        """Store the whole index in the database at its current position (see snapshot.py); False
        when another process stored one as recent meanwhile.

        The arrays are copied under the lock (so they match `applied_seq`), the vectors in the
        store's precision; the database write happens outside it.
        """
        started = time.perf_counter()
        with self._lock:
            position = self.applied_seq
            sides = {side: self.engine.export_side(side, store.VECTOR_DTYPE) for side in MODELS}
        encoder = self.engine.encoder
        with session_scope(self.session_factory) as session:
            written = snapshot.write(session, encoder=encoder.name, dim=encoder.dim, applied_seq=position, sides=sides)
        self.snapshot_seq = max(self.snapshot_seq, position)
        if written:
            log.info("index snapshot stored at change %d in %.1fs", position, time.perf_counter() - started)
        return written

    def load_stored(self) -> int:
        """Replace the whole index with the stored vectors and tokens of this encoder; returns the count.

        The change-log position is read first: changes committed while the rows are read are
        replayed afterwards, and replaying one already seen is harmless. A record whose stored
        vector is of an older text of it is loaded as it is, like any record whose encoding is
        pending: the encoding process's log entry updates it.

        The records' keywords, which the tokeniser keeps whole in queries, are not read here:
        normalising and adding them took half the time of a start at 30,000 records. The stored
        tokens already hold them whole; `learn_keywords` adds them to the query tokeniser in the
        background.

        When no vector of this encoder is stored at all (a database that was never encoded),
        there is nothing to load and the whole log is replayed instead, encoding as it goes in
        a process that may encode (and saving part-way, as any long catch-up).
        """
        started = time.perf_counter()
        encoder = self.engine.encoder
        with self._lock, session_scope(self.session_factory, read_only=True) as session:
            position = last_seq(session)
            if not store.count(session, encoder=encoder.name):
                log.info("no stored vector of %s: replaying the whole change log", encoder.name)
                self.applied_seq = 0
                self.started_from = "change log"
                return 0
            total = _load_sides(session, self.engine)
            self.applied_seq = position
            self.unsaved = max(self.unsaved, 1)  # the local files no longer match: the next worker pass saves
            self.keywords_pending = True
            self.started_from = "stored vectors"
        log.info("index built from %d stored vectors (%s) in %.1fs, at change %d", total, encoder.name,
                 time.perf_counter() - started, position)
        return total

    def switch(self) -> bool:
        """During a rollout, serve the successor once its vectors are complete; returns whether it switched.

        Complete means marked served by an encoding process (`rollout.took_over`), or, in an
        encoding process, no published record lacking an up-to-date successor row, which it then
        marks. Serve replicas only follow the mark: until the encoding processes switch, the
        successor rows they store carry no change-log entry, so a replica switching earlier
        would never learn of the rows of records changed after it did.

        The successor's engine is built from its stored rows as `load_stored` builds one, outside
        the lock, so the previous engine keeps serving meanwhile (requests in flight keep the
        engine they started with). Under the lock it is swapped in and the change log replayed
        from stored vectors, from the position the previous engine had applied before the check:
        a change since then is in the new engine before any request sees it, or, its successor
        row not stored yet, in the backlog of an encoding process (encoded with the successor on
        its next pass, with a log entry that brings it to the replicas). Nothing is encoded here.
        The saved index files and the stored snapshot are of the previous encoder until the next
        save and snapshot; a restart meanwhile ignores them (another encoder's) and builds from
        the successor's rows. For a moment both engines are in memory.
        """
        successor = self.successor
        if successor is None:
            return False
        position = self.applied_seq
        serving = self.engine.encoder.name
        with session_scope(self.session_factory) as session:
            if not rollout.took_over(session, successor=successor.name, serving=serving):
                if not self.may_encode:
                    return False
                self.lacking = store.count_lacking(session, serving=serving, successor=successor.name)
                if self.lacking:
                    return False
                rollout.mark_served(session, successor.name)
        started = time.perf_counter()
        engine = MatchEngine(load(successor), **self.index_options)
        engine.tokenizer.add_terms(self.engine.tokenizer.terms)  # queries keep being cut as before
        with session_scope(self.session_factory, read_only=True) as session:
            total = _load_sides(session, engine)
        with self._lock:
            previous, self.engine = self.engine.encoder.name, engine
            self.setup, self.successor, self.lacking = successor, None, None
            self.applied_seq, self.snapshot_seq = position, 0
            self.unsaved = max(self.unsaved, 1)
            self.keywords_pending = True  # those the previous engine was still learning
            while self._apply_batch(BATCH, False, encode=False)[0]:
                pass
        log.info("switched the index from %s to %s: %d stored vectors in %.1fs, at change %d", previous, engine.encoder.name,
                 total, time.perf_counter() - started, self.applied_seq)
        return True

    def rollout_state(self) -> dict[str, Any] | None:
        """GET /health's `rollout`: the encoder serving, its successor and what it still lacks (None without a rollout)."""
        successor = self.successor
        if successor is None:
            return None
        return {"serving": self.engine.encoder.name, "successor": successor.name, "lacking": self.lacking}

    def learn_keywords(self) -> None:
        """Teach the tokeniser every published record's keywords, after `load_stored` (see there)."""
        if not self.keywords_pending:
            return
        with session_scope(self.session_factory, read_only=True) as session:
            for model in MODELS.values():
                keywords = session.scalars(select(model.keywords).where(model.status == INDEXED_STATUS))
                self.engine.add_terms({keyword for record in keywords for keyword in record})
        self.keywords_pending = False

    def catch_up(
        self, limit: int | None = None, show_progress: bool = False, wait: float | None = None, until: int | None = None,
        own: Collection[tuple[str, int]] = (),
    ) -> int:
        """Apply change-log entries after `applied_seq`, at most `limit`; returns how many.

        Works batch by batch, taking the lock for one batch at a time, so a long backlog never
        holds up searches. With `wait` (seconds), gives up when another thread keeps the lock
        that long: that thread is applying the same log in order, so nothing is lost. With
        `until`, stops once that position is applied (a writer waits for its own change, not for
        the ones written after it). `own` names the (side, id) records the caller wrote: they are
        encoded here even when this keeper may not encode the others.
        """
        applied = 0
        own = frozenset(own)
        while limit is None or applied < limit:
            if not self._lock.acquire(timeout=-1 if wait is None else wait):
                break
            try:
                size = BATCH if limit is None else min(BATCH, limit - applied)
                if until is not None:
                    if self.applied_seq >= until:
                        break
                    size = min(size, until - self.applied_seq)  # no further than `until` (at most)
                done, logged = self._apply_batch(size, show_progress, encode=self.may_encode, own=own)
            finally:
                self._lock.release()
            if not done:
                break
            applied += done
            if until is not None:  # what this pass encoded was logged again: apply that too, so nothing is left pending
                until = max(until, logged)
        return applied

    def refresh(self, session: Session) -> None:
        """A match request's cheap check: apply up to `MATCH_CATCH_UP` changes with the request's
        own session (one connection per request), from stored vectors only, unless another
        thread is applying already."""
        if not self._lock.acquire(blocking=False):
            return
        try:
            self._apply_batch(MATCH_CATCH_UP, False, session=session, encode=False)
        finally:
            self._lock.release()

    def _apply_batch(self, size: int, show_progress: bool, *, encode: bool, own: frozenset[tuple[str, int]] = frozenset(),
                     session: Session | None = None) -> tuple[int, int]:
        """Apply the next `size` changes: read everything in one read transaction (the caller's
        `session`, or a short one of its own), then encode what must be, outside it.

        Returns how many changes were applied and the last change-log position the encodings
        wrote (0 if none)."""
        if session is None:
            with session_scope(self.session_factory, read_only=True) as own_session:
                rows, plans = self._plan(own_session, size)
        else:
            rows, plans = self._plan(session, size)
        logged = max([self._index(plan, encode, own, show_progress) for plan in plans], default=0)
        if rows:
            self.applied_seq = rows[-1].seq
            self.unsaved += len(rows)
        return len(rows), logged

    def _plan(self, session: Session, size: int) -> tuple[Sequence[Row[int, str, int]], list["_Plan"]]:
        rows = session.execute(
            select(IndexChange.seq, IndexChange.side, IndexChange.record_id)
            .where(IndexChange.seq > self.applied_seq)
            .order_by(IndexChange.seq)
            .limit(size)
        ).all()
        plans = []
        for side, model in MODELS.items():
            ids = {row.record_id for row in rows if row.side == side}
            if not ids:
                continue
            live = session.scalars(select(model).where(model.id.in_(ids), model.status == INDEXED_STATUS)).all()
            texts = {record.id: document_text(*record.searchable_text()) for record in live}
            stored = store.read(session, side=side, encoder=self.engine.encoder.name, ids=texts)
            plan = _Plan(side, gone=ids - set(texts), keywords=[k for record in live for k in record.keywords])
            for record_id, text in texts.items():
                digest = store.text_hash(text)
                found = stored.get(record_id)
                if found is not None and found.text_hash == digest:
                    plan.ready.append((record_id, found))
                else:
                    plan.unencoded.append((record_id, digest, text))
            plans.append(plan)
        return rows, plans

    def _index(self, plan: "_Plan", encode: bool, own: frozenset[tuple[str, int]], show_progress: bool) -> int:
        """Apply one side's plan; returns the last change-log position its encodings wrote (0 if none)."""
        side = plan.side
        for gone in plan.gone:
            self.engine.remove(side, gone)
        self.engine.add_terms(plan.keywords)
        # A stored vector already in the index (the log entry of a vector this process stored) is not added again.
        fresh = [(i, found) for i, found in plan.ready if not _same(self.engine.vector(side, i), found.vector)]
        self.engine.add_tokenized(side, [i for i, _ in fresh], _rows([f.vector for _, f in fresh], self.engine.encoder.dim),
                                  [f.tokens for _, f in fresh])
        wanted = [item for item in plan.unencoded if encode or (side, item[0]) in own]
        if self.may_encode and len(wanted) < len(plan.unencoded):
            self.backlog.update((side, item[0]) for item in plan.unencoded if item not in wanted)
        if not wanted:
            return 0
        if own:  # a writer encodes its own records at once, claimed or not: its call returns them matchable
            return self._encode_and_store(side, wanted, show_progress)
        with self._claimed(side, wanted) as mine:
            return self._encode_and_store(side, mine, show_progress) if mine else 0

    @contextmanager
    def _claimed(self, side: str, items: list[tuple[int, str, str]], successor: EncoderSetup | None = None,
                 force: bool = False) -> Iterator[list[tuple[int, str, str]]]:
        """The (id, text hash, text) items this process encodes now, held until the block ends
        (claims.py). Those another encoding process holds wait in the backlog (a rollout's
        successor rows: for the next `encode_successor`); those whose vector was stored since
        they were read (by the process that held them) are dropped, unless `force`."""
        with claims.claim(self.session_factory, side, [record_id for record_id, _, _ in items]) as claimed:
            if successor is None:
                self.backlog.update((side, record_id) for record_id, _, _ in items if record_id not in claimed)
            mine = [item for item in items if item[0] in claimed]
            if mine and not force and claims.divided(self.session_factory):
                name = successor.name if successor else self.engine.encoder.name
                with session_scope(self.session_factory, read_only=True) as session:
                    current = store.hashes(session, side=side, encoder=name, ids=[record_id for record_id, _, _ in mine])
                mine = [item for item in mine if current.get(item[0]) != item[1]]
            yield mine

    def _encode_and_store(self, side: str, items: Sequence[tuple[int, str, str]], show_progress: bool = False,
                          successor: EncoderSetup | None = None) -> int:
        """Encode and tokenise (id, text hash, text) records, store them with a change-log entry
        each (other processes index them from the store), and index them here; returns the last
        change-log position written.

        The index gets the vector as stored (float16 and back), so every process holds the same
        vectors and the log entry's replay here finds it in place.

        With `successor` (a rollout's, see rollout.py), the records are encoded with it and only
        stored: no process indexes them before it switches, so no log entry (the dispatch worker
        would rank every record again) and nothing indexed here; returns 0.
        """
        setup, encoder = (successor, load(successor)) if successor else (self.setup, self.engine.encoder)
        texts = [text for _, _, text in items]
        vectors = encoder.encode_documents(texts, show_progress=show_progress)
        tokens = [self.engine.tokenizer.tokenize(text) for text in texts]
        rows = [(record_id, digest, vector, toks) for (record_id, digest, _), vector, toks in zip(items, vectors, tokens, strict=True)]
        with session_scope(self.session_factory) as session:
            store.write(session, side=side, encoder=encoder.name, rows=rows)
            self._register(session, setup, encoder)
            if successor is None:
                for record_id, _, _ in items:
                    log_change(session, side=side, record_id=record_id)
        self._registered.add(encoder.name)
        self.encoded += len(items)
        if successor:
            return 0
        logged = last_logged(session) or 0
        as_stored = unit_rows(np.asarray(vectors, dtype=store.VECTOR_DTYPE))
        self.engine.add_tokenized(side, [record_id for record_id, _, _ in items], as_stored, tokens)
        return logged

    def _register(self, session: Session, setup: EncoderSetup | None, encoder: Encoder, first: bool = False) -> None:
        """Register how `encoder` loads (see `rollout.register` for `first`), in the caller's
        transaction, unless this process did already: the caller notes it once that commits."""
        if setup is not None and encoder.name not in self._registered:
            rollout.register(session, setup, encoder, first=first)

    def encode_records(self, side: str, ids: Collection[int], force: bool = False, successor: EncoderSetup | None = None) -> int:
        """Encode the published records among `ids` whose stored vector is missing or of another
        text (all of them with `force`), store and index them; returns how many were encoded.

        With `successor`, the vectors of the rollout's successor, only stored (`_encode_and_store`),
        without the keeper's lock: indexing nothing, they need not hold up the requests that apply
        their own changes meanwhile."""
        model = MODELS[side]
        encoder = load(successor) if successor else self.engine.encoder
        with session_scope(self.session_factory, read_only=True) as session:
            live = session.scalars(select(model).where(model.id.in_(ids), model.status == INDEXED_STATUS)).all()
            keywords = [k for record in live for k in record.keywords]
            texts = {record.id: document_text(*record.searchable_text()) for record in live}
            stored = store.hashes(session, side=side, encoder=encoder.name, ids=texts)
        items = [(i, store.text_hash(text), text) for i, text in texts.items()]
        items = [item for item in items if force or stored.get(item[0]) != item[1]]
        if not items:
            return 0
        with self._claimed(side, items, successor, force) as mine, nullcontext() if successor else self._lock:
            if successor is None:  # the successor's records are only stored: its engine learns them at the switch
                self.engine.add_terms(keywords)
            if mine:
                self._encode_and_store(side, mine, successor=successor)
        return len(mine)

    def encode_missing(self, limit: int = BATCH) -> int:
        """Encode up to `limit` published records that have no stored vector of this encoder
        (a database from before stored vectors, records a refresh passed over); returns how many."""
        return self._encode_found(lambda session, side, left: store.missing(
            session, side=side, encoder=self.engine.encoder.name, limit=left), limit)

    def encode_successor(self, limit: int = BATCH) -> int:
        """During a rollout, store the successor's vectors of up to `limit` published records whose
        row of it is missing or of another text than the serving encoder's row (`store.lacking`);
        returns how many were encoded. The successor loads on the first call."""
        successor = self.successor
        if successor is None or not self.may_encode:
            return 0
        return self._encode_found(lambda session, side, left: store.lacking(
            session, side=side, serving=self.engine.encoder.name, successor=successor.name, limit=left), limit, successor)

    def _encode_found(self, find: Callable[[Session, str, int], list[int]], limit: int,
                      successor: EncoderSetup | None = None) -> int:
        """Encode (with `successor`, for it) up to `limit` records that `find(session, side, how many)`
        names, side after side; returns how many were encoded."""
        done = 0
        for side in MODELS:
            with session_scope(self.session_factory, read_only=True) as session:
                ids = find(session, side, limit - done)
            done += self.encode_records(side, ids, successor=successor) if ids else 0
            if done >= limit:
                break
        return done

    def encode_backlog(self) -> int:
        """Encode the records passes of this keeper could not encode (see `backlog`)."""
        taken, self.backlog = self.backlog, set()
        encoded = 0
        for side in MODELS:
            ids = [record_id for taken_side, record_id in taken if taken_side == side]
            if ids:
                encoded += self.encode_records(side, ids)
        return encoded

    def reindex(self, force: bool = False, show_progress: bool = True) -> tuple[int, int]:
        """Encode every published record whose stored vector is missing or of another text (all
        with `force`), in batches; returns (published, encoded). `techmatch reindex`."""
        from tqdm import tqdm

        published = encoded = 0
        for side, model in MODELS.items():
            with session_scope(self.session_factory, read_only=True) as session:
                count = session.scalar(select(func.count()).select_from(model).where(model.status == INDEXED_STATUS)) or 0
            last = 0
            with tqdm(total=count, desc=f"encoding {side}", unit="rec", disable=not show_progress) as bar:
                while True:
                    with session_scope(self.session_factory, read_only=True) as session:
                        ids = list(session.scalars(select(model.id).where(model.status == INDEXED_STATUS, model.id > last)
                                                   .order_by(model.id).limit(REINDEX_BATCH)))
                    if not ids:
                        break
                    encoded += self.encode_records(side, ids, force=force)
                    published += len(ids)
                    last = ids[-1]
                    bar.update(len(ids))
                    bar.set_postfix(encoded=encoded)
        return published, encoded

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


class _Plan:
    """What one batch of changes asks of one side: records to remove, stored vectors to index,
    and records whose current text has no stored vector yet."""

    def __init__(self, side: str, gone: set[int], keywords: list[str]):
        self.side, self.gone, self.keywords = side, gone, keywords
        self.ready: list[tuple[int, store.StoredVector]] = []
        self.unencoded: list[tuple[int, str, str]] = []  # (id, text hash, text)


def _load_sides(session: Session, engine: MatchEngine) -> int:
    """Replace both sides of `engine` with the stored vectors and tokens of its encoder; returns the count."""
    encoder = engine.encoder
    total = 0
    for side in MODELS:
        bulk = store.load_all(session, side=side, encoder=encoder.name, dim=encoder.dim)
        engine.load_side(side, bulk.ids, bulk.vectors, bulk.tokens)
        total += len(bulk.ids)
    return total


def _same(indexed: np.ndarray | None, stored: np.ndarray) -> bool:
    return indexed is not None and np.array_equal(indexed, stored)


def _rows(vectors: list[np.ndarray], dim: int) -> np.ndarray:
    return np.stack(vectors) if vectors else np.zeros((0, dim), dtype=np.float32)


class IndexWorker(PeriodicWorker):
    """Applies the change log in the background, batch by batch, and saves the index files.

    A save follows every `save_every` applied changes, so a crash during a long catch-up (a
    bulk import) costs at most that much replay, and another when the log is drained. Asked
    to stop, it finishes the batch in hand, saves, and leaves the rest of the backlog to the
    next start: shutting down never waits for a backlog.

    In a keeper that may encode (role all/worker) it also encodes, batch by batch, the
    published records without a stored vector (once per start, until none is left: a database
    from before stored vectors fills itself), the keeper's `backlog` and, during a rollout, the
    successor's vectors. During a rollout every keeper, once a pass has nothing else left to
    do, checks whether the successor takes over (`IndexKeeper.switch`: a read of the small
    registry table, and in an encoding process whose successor rows were all stored, one
    count). The keywords a fresh
    start left to `learn_keywords`, then the IVF cells it deferred (or the index outgrew), are
    built on a thread of its own, so the log is followed meanwhile; a pass starts that thread
    only when one of the two is due and it is not running already.
    """

    name = "index-keeper"

    def __init__(self, keeper: IndexKeeper, interval: float):
        super().__init__(interval, log)
        self.keeper = keeper
        self._filled = not keeper.may_encode
        self._optimizer: threading.Thread | None = None

    def run_once(self) -> int:
        started, encoded = time.perf_counter(), self.keeper.encoded
        self._optimize()
        applied = 0
        while True:
            done = self.keeper.catch_up(limit=BATCH)
            if not done and self.keeper.may_encode:
                done = self.keeper.encode_backlog() + self._fill() + self.keeper.encode_successor()
            if not done and self.keeper.successor is not None:
                self.keeper.switch()
            applied += done
            finished = not done or self.stopping
            if self.keeper.unsaved >= self.keeper.save_every or (finished and self.keeper.unsaved):
                self.keeper.save()
            if finished:
                if not done and self.keeper.may_encode and self.keeper.snapshot_due:
                    self.keeper.write_snapshot()
                break
        if applied:
            log.info("applied %d changes and encoded %d records in %.1fs", applied, self.keeper.encoded - encoded,
                     time.perf_counter() - started)
        return applied

    def _fill(self) -> int:
        if self._filled:
            return 0
        encoded = self.keeper.encode_missing(BATCH)
        self._filled = not encoded
        return encoded

    def _optimize(self) -> None:
        """Start the "index-cells" thread when it has something to build and is not running already."""
        if self._optimizer is not None and self._optimizer.is_alive():
            return
        if self.keeper.keywords_pending or self.keeper.engine.needs_cells:
            self._optimizer = threading.Thread(target=self._build_cells, name="index-cells", daemon=True)
            self._optimizer.start()

    def _build_cells(self) -> None:
        started = time.perf_counter()
        try:
            self.keeper.learn_keywords()
            if self.keeper.engine.optimize():
                log.info("IVF cells built in %.1fs", time.perf_counter() - started)
        except Exception:  # the flat index keeps serving; the next pass tries again
            log.exception("building the IVF cells failed")

    def stop(self) -> None:
        """Stop after the current batch and save what requests applied since the last save."""
        super().stop()
        if self.keeper.unsaved:
            self.keeper.save()
