"""Import jobs: create one from an upload, run it in chunks, resume it after a crash.

Every row goes through the side's Create schema (the API's own rules) and through
`app.listings.service` (the API's own writes), so history and the matching change log are
written exactly as for a POST or PATCH. Rows are committed in chunks of
`settings.import_chunk_rows`; each chunk's transaction also advances the job's
`processed_rows` and counts, so after a crash the job resumes right after its last committed
chunk. A row is written inside a savepoint: a row that fails half-way leaves nothing.

Any number of worker processes may run jobs (on PostgreSQL; SQLite is one process). The upload
is kept in the database (`ImportFile`) until the job ends, and a running job is leased to one
worker (see `ImportJob`): a worker claims a queued job, or a running one whose lease has expired
because its worker died, and commits each chunk only after checking, under the job's row lock,
that it still holds the lease. A job taken over therefore resumes exactly after the last
committed chunk: nothing is imported twice and nothing is lost.

Modes: `commit` imports the good rows and reports the bad ones; `dry_run` runs the same code
and rolls every chunk back; `all_or_nothing` first does a dry run of the whole file and, only
if no row is bad, writes everything in one transaction.
"""

import hashlib
import json
import logging
import os
import secrets
import socket
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from itertools import islice
from pathlib import Path
from typing import Any, cast

from pydantic import BaseModel, ValidationError
from pydantic_core import to_jsonable_python
from sqlalchemy import ColumnElement, CursorResult, and_, delete, or_, select, update
from sqlalchemy.orm import Session, sessionmaker

from app.achievements.models import Achievement
from app.achievements.schemas import AchievementCreate, AchievementUpdate
from app.auth import Principal
from app.background import PeriodicWorker
from app.config import Settings
from app.database import lock_row, session_scope, utcnow
from app.demands.models import Demand
from app.demands.schemas import DemandCreate, DemandUpdate
from app.errors import AppError, InvalidInput, NotFound
from app.imports import parsing, reasons
from app.imports.columns import STATUS_LABELS
from app.imports.models import ImportFile, ImportJob, ImportLink
from app.listings import service as listings
from app.listings.models import ListingColumns
from app.listings.schemas import ListingCreate

log = logging.getLogger("techmatch.imports")

FINISHED = ("done", "failed")
MAX_STORED_ERRORS = 10_000


@dataclass(frozen=True)
class Side:
    model: type[ListingColumns]
    create: type[ListingCreate]
    update: type[BaseModel]


SIDES = {
    "demands": Side(Demand, DemandCreate, DemandUpdate),
    "achievements": Side(Achievement, AchievementCreate, AchievementUpdate),
}
Progress = Callable[[int, int], None]


@dataclass(frozen=True)
class _Snapshot:
    """The job's settings, detached from any session."""

    id: int
    side: str
    org_id: int
    key_id: int | None
    role: str
    mode: str
    all_or_nothing: bool
    filename: str
    processed_rows: int

    @classmethod
    def of(cls, job: ImportJob) -> "_Snapshot":
        return cls(job.id, job.side, job.org_id, job.key_id, job.role, job.mode, job.all_or_nothing, job.filename, job.processed_rows)


class _JobGone(Exception):
    """The job's row was deleted while the job ran: there is nowhere left to record its progress."""


class LeaseLost(Exception):
    """Another worker holds the job now (this one's lease expired): this one stops, and its
    uncommitted chunk is rolled back, so no row is written twice."""


def _job(session: Session, job_id: int) -> ImportJob:
    job = session.get(ImportJob, job_id)
    if job is None:
        raise _JobGone(job_id)
    return job


def worker_id() -> str:
    """A lease owner's name: host and pid say which process holds a job; the random part tells
    apart two runs that reuse a pid."""
    return f"{socket.gethostname()}:{os.getpid()}:{secrets.token_hex(4)}"


def _lease(job: ImportJob, owner: str, settings: Settings) -> None:
    now = utcnow()
    job.lease_owner, job.lease_expires_at, job.heartbeat_at = owner, now + timedelta(seconds=settings.import_lease_seconds), now


def create_job(
    session: Session, *, settings: Settings, side: str, mode: str, all_or_nothing: bool, filename: str, data: bytes,
    actor: Principal, owner: str | None = None,
) -> ImportJob:
    """A queued job for `data`, stored in the database; its header is checked at once (422 if unusable).

    With `owner` the job starts running, leased to it (the console import runs its own job).
    """
    actor.require_role(*listings.CREATORS, action=f"import {side}")
    try:
        parsing.file_format(filename)
    except parsing.FileProblem as problem:
        raise InvalidInput(str(problem), ["body", "file"]) from None
    if len(data) > settings.import_max_bytes:
        raise InvalidInput(f"the file is larger than {settings.import_max_bytes} bytes", ["body", "file"])
    try:
        sheet = parsing.open_sheet(data, filename, side)
    except parsing.FileProblem as problem:
        raise InvalidInput(str(problem), ["body", "file"]) from None
    sheet.close()
    job = ImportJob(
        side=side, org_id=actor.org_id, key_id=actor.key_id, role=actor.role, mode=mode, all_or_nothing=all_or_nothing,
        filename=Path(filename).name[-255:], status="queued", ignored_columns=sheet.ignored,
    )
    if owner is not None:
        job.status = "running"
        _lease(job, owner, settings)
    session.add(job)
    session.flush()
    session.add(ImportFile(job_id=job.id, data=data))
    return job


def get_or_raise(session: Session, *, job_id: int, actor: Principal) -> ImportJob:
    """A job of the caller's organization (any job for an admin), else 404."""
    job = session.get(ImportJob, job_id)
    if job is None or not (actor.is_admin or job.org_id == actor.org_id):
        raise NotFound(f"import {job_id} does not exist", ["path", "job_id"])
    return job


def _claimable(now: datetime) -> ColumnElement[bool]:
    """Queued, or running without a live lease (its worker died, or stopped and let it go)."""
    return or_(
        ImportJob.status == "queued",
        and_(ImportJob.status == "running", or_(ImportJob.lease_expires_at.is_(None), ImportJob.lease_expires_at < now)),
    )


def claim(factory: sessionmaker[Session], settings: Settings, owner: str, job_id: int | None = None) -> int | None:
    """Lease a job to `owner` and return its id: `job_id` if it is claimable or already `owner`'s,
    else the oldest claimable job; None when there is none.

    On PostgreSQL the row is read with FOR UPDATE SKIP LOCKED, so workers claiming at once take
    different jobs and never wait for each other; on SQLite the claim's transaction holds the
    database's write lock from its first statement (BEGIN IMMEDIATE), which serializes claims.
    """
    with session_scope(factory) as session:
        query = select(ImportJob)
        if job_id is None:
            query = query.where(_claimable(utcnow())).order_by(ImportJob.id).limit(1)
        else:
            query = query.where(
                ImportJob.id == job_id,
                or_(_claimable(utcnow()), and_(ImportJob.status == "running", ImportJob.lease_owner == owner)),
            )
        job = session.scalar(query.with_for_update(skip_locked=True))
        if job is None:
            return None
        if job.lease_owner != owner:
            taken_over = f", taken over from {job.lease_owner} (its lease ran out)" if job.lease_owner and job.status == "running" else ""
            log.info("import %d claimed by %s after row %d%s", job.id, owner, job.processed_rows, taken_over)
        job.status = "running"
        _lease(job, owner, settings)
        return job.id


def _owned(session: Session, job_id: int, owner: str, settings: Settings) -> ImportJob:
    """The job, locked, once it is certain `owner` still holds its lease (which is then extended).

    Every write of a job's progress goes through here in the same transaction as the rows it
    counts, so a worker that lost its lease can never commit a chunk the new owner also writes.
    """
    job = lock_row(session, ImportJob, job_id)
    if job is None:
        raise _JobGone(job_id)
    if job.status != "running" or job.lease_owner != owner:
        raise LeaseLost(job_id)
    _lease(job, owner, settings)
    return job


def heartbeat(factory: sessionmaker[Session], settings: Settings, job_id: int, owner: str) -> bool:
    """Extend `owner`'s lease on the job; False when another worker holds it (or it ended)."""
    now = utcnow()
    with session_scope(factory) as session:
        result = session.execute(
            update(ImportJob)
            .where(ImportJob.id == job_id, ImportJob.status == "running", ImportJob.lease_owner == owner)
            .values(lease_expires_at=now + timedelta(seconds=settings.import_lease_seconds), heartbeat_at=now)
        )
        return bool(cast(CursorResult[Any], result).rowcount)


class _Heartbeat:
    """Extends the lease every `import_heartbeat_seconds` while the job runs, so a slow chunk
    (a large all-or-nothing transaction, a busy database) keeps its job; `lost` is set once
    another worker has taken the job over."""

    def __init__(self, factory: sessionmaker[Session], settings: Settings, job_id: int, owner: str):
        self.factory, self.settings, self.job_id, self.owner = factory, settings, job_id, owner
        self.lost = threading.Event()
        self._done = threading.Event()
        self._thread = threading.Thread(target=self._run, name=f"import-{job_id}-heartbeat", daemon=True)

    def __enter__(self) -> "_Heartbeat":
        self._thread.start()
        return self

    def __exit__(self, *_) -> None:
        self._done.set()
        self._thread.join()

    def _run(self) -> None:
        while not self._done.wait(self.settings.import_heartbeat_seconds):
            try:
                if not heartbeat(self.factory, self.settings, self.job_id, self.owner):
                    self.lost.set()
                    return
            except Exception as error:  # the database was busy or unreachable: the next beat or chunk extends the lease
                log.warning("import %d: heartbeat failed: %s", self.job_id, str(error).splitlines()[0])


@dataclass
class _Tally:
    created: int = 0
    updated: int = 0
    skipped: int = 0
    failed: int = 0
    errors: list = field(default_factory=list)

    def add_to(self, job: ImportJob, rows: int) -> None:
        job.processed_rows += rows
        job.created += self.created
        job.updated += self.updated
        job.skipped += self.skipped
        job.failed += self.failed
        room = MAX_STORED_ERRORS - len(job.errors)
        if self.errors and room > 0:
            job.errors = job.errors + self.errors[:room]
        job.updated_at = utcnow()


class RowProblem(Exception):
    """A valid row that cannot be applied (its 编号 names no record of the importer's, …): a row error."""

    def __init__(self, column_key: str, reason: str):
        super().__init__(reason)
        self.column_key, self.reason = column_key, reason


@dataclass(frozen=True)
class Row:
    """One valid row: the Create body and what names its record (编号, 原系统编号) and its 状态 cell."""

    data: ListingCreate
    code: str | None
    record_id: int | None
    status: str | None


class _Importer:
    """The rows of one job, applied with the job's principal."""

    def __init__(self, job: ImportJob | _Snapshot, sheet: parsing.Sheet):
        self.side = SIDES[job.side]
        self.side_name = job.side
        self.org_id = job.org_id
        self.actor = Principal(key_id=job.key_id, org_id=job.org_id, role=job.role)
        self.sheet = sheet
        self.present = {c.key.split(".")[0] for c in sheet.columns if c is not None}
        self.present |= {"price_min", "price_max"} if "price" in self.present else set()
        self.seen: dict[tuple[str, object], int] = {}  # (column key, 编号 or 原系统编号) → first row, to refuse one twice

    @staticmethod
    def _names(parsed: parsing.ParsedRow) -> list[tuple[str, object]]:
        return [(key, value) for key, value in (("id", parsed.record_id), ("external_code", parsed.external_code)) if value]

    def remember(self, number: int, values: list) -> None:
        """Note a row's 编号 and 原系统编号 without importing it (rows committed before a resume)."""
        parsed = parsing.parse_row(self.sheet, number, values)
        if not parsed.errors:
            for name in self._names(parsed):
                self.seen.setdefault(name, number)

    def apply(self, session: Session, number: int, values: list, tally: _Tally) -> None:
        """Validate one row and write it in a savepoint; the outcome goes into `tally`."""
        parsed = parsing.parse_row(self.sheet, number, values)
        errors = parsed.errors
        data = None
        if not errors:
            try:
                data = self.side.create.model_validate(parsed.body)
            except ValidationError as error:
                errors = [
                    {"row": number, "column": parsing.column_of(e["loc"], parsed.headers), "reason": reasons.of_validation(e)}
                    for e in error.errors()
                ]
        if not errors:
            for key, value in self._names(parsed):
                first = self.seen.setdefault((key, value), number)
                if first != number:
                    header = parsed.headers.get(key, "")
                    reason = reasons.both(f"{header} {value} 在第 {first} 行已出现", f"{header} {value!r} already used on row {first}")
                    errors = [{"row": number, "column": header, "reason": reason}]
        if errors or data is None:
            tally.failed += 1
            tally.errors.extend(errors)
            return
        try:
            with session.begin_nested():
                outcome, notes = apply_row(session, self, Row(data, parsed.external_code, parsed.record_id, parsed.status))
        except RowProblem as problem:
            tally.failed += 1
            tally.errors.append({"row": number, "column": parsed.headers.get(problem.column_key, ""), "reason": problem.reason})
            return
        except AppError as error:
            column = parsing.column_of(error.loc, parsed.headers) if error.loc[:1] == ["body"] else ""
            tally.failed += 1
            tally.errors.append({"row": number, "column": column, "reason": reasons.of_app_error(error)})
            return
        setattr(tally, outcome, getattr(tally, outcome) + 1)
        tally.errors.extend({"row": number, "column": parsed.headers.get("status", ""), "reason": note, "note": True} for note in notes)


def content_hash(data: BaseModel) -> str:
    text = json.dumps(data.model_dump(mode="json"), sort_keys=True, ensure_ascii=False)
    return hashlib.sha256(text.encode()).hexdigest()


def _label(status: str) -> str:
    return STATUS_LABELS.get(status, status)


def _named_record(session: Session, importer: _Importer, record_id: int):
    """The record a row's 编号 names, locked: one of the importer's organization (any, for an admin)."""
    actor, model = importer.actor, importer.side.model
    try:
        record = listings.get_visible_or_raise(session, model=model, record_id=record_id, actor=actor, lock=True)
    except NotFound:
        reason = reasons.both(f"编号 {record_id} 没有对应的记录", f"{model.entity_type} {record_id} does not exist")
        raise RowProblem("id", reason) from None
    if not actor.is_admin and record.owner_org_id != actor.org_id:
        raise RowProblem(
            "id",
            reasons.both(
                f"编号 {record_id} 是其他单位的记录，只能由其所属单位导入修改；新增记录请清空编号",
                f"{model.entity_type} {record_id} belongs to another organization",
            ),
        )
    return record


def _changed_fields(record, values: dict) -> dict:
    """The row's values that differ from the record's content (compared as JSON)."""
    current = {**listings.content_of(record), "region": record.region_code}
    return {key: value for key, value in values.items() if current.get(key) != to_jsonable_python(value)}


def _status_notes(record, status: str | None) -> list[str]:
    """A note when the 状态 cell names another state than the record's: an import never moves a
    record along its life cycle, except publishing a draft (as a new row is published)."""
    if status is None or status == record.status or (record.status == "draft" and status == "published"):
        return []
    return [
        reasons.both(
            f"状态「{_label(status)}」未导入：导入不改变记录状态，记录仍为「{_label(record.status)}」",
            f"status {status} ignored: an import does not change a {record.status} record's state",
        )
    ]


def apply_row(session: Session, importer: _Importer, row: Row) -> tuple[str, list[str]]:
    """Create, update or skip the record of one valid row.

    The record is the one its 编号 names, else the one its 原系统编号 was linked to by an earlier
    import, else a new one. Returns "created", "updated" or "skipped" and notes on cells not applied.
    """
    side, actor = importer.side, importer.actor
    digest = content_hash(row.data)
    link = None
    if row.code:
        link = session.scalar(
            select(ImportLink).where(
                ImportLink.side == importer.side_name, ImportLink.owner_org_id == importer.org_id, ImportLink.external_code == row.code
            )
        )
    if row.record_id is not None:
        record = _named_record(session, importer, row.record_id)
        if link is not None and link.record_id != record.id:
            raise RowProblem(
                "external_code",
                reasons.both(
                    f"原系统编号 {row.code} 已对应编号 {link.record_id} 的记录", f"{row.code!r} is linked to record {link.record_id}"
                ),
            )
    else:
        record = lock_row(session, side.model, link.record_id) if link else None
        if link is not None and record is not None and link.content_hash == digest:
            return "skipped", _status_notes(record, row.status)
    if record is None:
        record = listings.create(session, model=side.model, data=row.data, actor=actor)
        notes = []
        if row.status not in (None, "draft", "published"):
            notes.append(
                reasons.both(
                    f"状态「{_label(row.status)}」不能由导入设置：新记录已存为草稿",
                    f"status {row.status} cannot be imported: the new record is a draft",
                )
            )
        _link(session, importer, link, row.code, record.id, digest)
        return "created", notes
    changed = _changed_fields(record, row.data.model_dump(include=importer.present - {"status"}))
    if changed:
        if record.status not in record.lifecycle.editable:
            raise RowProblem(
                next(iter(changed)),
                reasons.both(
                    f"「{_label(record.status)}」状态的记录不能再修改（{'、'.join(changed)}）",
                    f"a {record.status} {record.entity_type} can no longer be edited",
                ),
            )
        listings.update(session, record=record, data=side.update.model_validate(changed), actor=actor)
    notes = _status_notes(record, row.status)
    published = record.status == "draft" and row.status in (None, "published")
    if published:
        listings.change_status(session, record=record, target="published", reason="published by import", actor=actor)
    _link(session, importer, link, row.code, record.id, digest)
    return ("updated" if changed or published else "skipped"), notes


def _link(session: Session, importer: _Importer, link: ImportLink | None, code: str | None, record_id: int, digest: str) -> None:
    """Remember (or move) the row's 原系统编号 → record link, with the row's content hash."""
    if link is not None:
        link.record_id, link.content_hash, link.updated_at = record_id, digest, utcnow()
    elif code:
        session.add(
            ImportLink(side=importer.side_name, owner_org_id=importer.org_id, external_code=code, record_id=record_id, content_hash=digest)
        )


def run_job(
    factory: sessionmaker[Session], settings: Settings, job_id: int, *, owner: str, progress: Progress | None = None,
    stopping: Callable[[], bool] = lambda: False,
) -> str:
    """Claim job `job_id` for `owner` and run (or resume) it to its end; returns its final status.

    "busy" when another worker holds a live lease on it. When `stopping()` turns true the job
    halts after its current chunk and lets its lease go, so the next worker to look (another
    process, or this one's next start) resumes it at once; "lost" when another worker took it
    over meanwhile (this one's lease had expired): that worker goes on after the last committed chunk.
    """
    if claim(factory, settings, owner, job_id) is None:
        with session_scope(factory) as session:
            job = session.get(ImportJob, job_id)
            return "missing" if job is None else job.status if job.status in FINISHED else "busy"
    with session_scope(factory) as session:
        snapshot = _Snapshot.of(_job(session, job_id))
        upload = session.get(ImportFile, job_id)
        data = upload.data if upload is not None else None
    run = _Run(factory, settings, snapshot, owner, progress, stopping)
    try:
        with _Heartbeat(factory, settings, job_id, owner) as beat:
            run.lost = beat.lost
            if data is None:
                raise parsing.FileProblem("the uploaded file was not found when the database was upgraded: upload it again")
            status = run.run(data)
    except parsing.FileProblem as problem:
        status = _finish(factory, settings, job_id, owner, "failed", str(problem))
    except _JobGone:
        log.warning("import %d was deleted while it ran", job_id)
        status = "missing"
    except LeaseLost:
        log.warning("import %d: another worker took the job over; this one stops", job_id)
        status = "lost"
    except Exception as error:
        log.exception("import %d failed", job_id)
        message = f"stopped by an internal error after the committed rows: {error}"[:500]
        status = _finish(factory, settings, job_id, owner, "failed", message)
    return status


def _end(session: Session, job: ImportJob, status: str, message: str = "") -> str:
    """Mark the job finished and drop its upload (the report stays), in the caller's transaction."""
    job.status, job.message, job.updated_at, job.lease_expires_at = status, message, utcnow(), None
    session.execute(delete(ImportFile).where(ImportFile.job_id == job.id))
    return status


def _finish(factory: sessionmaker[Session], settings: Settings, job_id: int, owner: str, status: str, message: str = "") -> str:
    """Record the job's final status if `owner` still holds it; "missing" or "lost" if not."""
    with session_scope(factory) as session:
        try:
            return _end(session, _owned(session, job_id, owner, settings), status, message)
        except _JobGone:
            return "missing"
        except LeaseLost:
            return "lost"


@dataclass
class _Run:
    """One worker's run of one job, from its last committed chunk."""

    factory: sessionmaker[Session]
    settings: Settings
    job: _Snapshot
    owner: str
    progress: Progress | None
    stopping: Callable[[], bool]
    lost: threading.Event = field(default_factory=threading.Event)

    def run(self, data: bytes) -> str:
        total = self._count_rows(data)
        if total > self.settings.import_max_rows:
            raise parsing.FileProblem(f"{total} rows: at most {self.settings.import_max_rows} rows per file")
        with session_scope(self.factory) as session:
            self._owned(session).total_rows = total
        if self.job.all_or_nothing and self.job.mode == "commit":
            status = self._all_or_nothing(data, total)
        elif self._in_chunks(data, total, write=self.job.mode == "commit"):
            status = _finish(self.factory, self.settings, self.job.id, self.owner, "done")
        else:
            status = "running"
        if status == "running":  # stopped: let the lease go so that the next worker resumes the job at once
            with session_scope(self.factory) as session:
                job = self._owned(session)
                job.lease_owner = job.lease_expires_at = None
        return status

    def _owned(self, session: Session) -> ImportJob:
        return _owned(session, self.job.id, self.owner, self.settings)

    def _count_rows(self, data: bytes) -> int:
        sheet = parsing.open_sheet(data, self.job.filename, self.job.side)
        try:
            return sum(1 for _ in sheet.rows)
        finally:
            sheet.close()

    def _in_chunks(self, data: bytes, total: int, *, write: bool) -> bool:
        """Commit (or, for a dry run, roll back) the rows chunk by chunk, resuming after `processed_rows`.

        Each chunk's rows and the job's progress are committed together, after checking under
        the job's lock that this worker still holds it. Returns False when stopped before the last row.
        """
        sheet = parsing.open_sheet(data, self.job.filename, self.job.side)
        try:
            importer = _Importer(self.job, sheet)
            done = self.job.processed_rows if write else 0
            if not write:
                with session_scope(self.factory) as session:
                    job = self._owned(session)
                    job.processed_rows = job.created = job.updated = job.skipped = job.failed = 0
                    job.errors = []
            for number, values in islice(sheet.rows, done):
                importer.remember(number, values)
            if self.progress:
                self.progress(done, total)
            while True:
                chunk = list(islice(sheet.rows, self.settings.import_chunk_rows))
                if not chunk:
                    return True
                if self.lost.is_set():
                    raise LeaseLost(self.job.id)
                with session_scope(self.factory) as session:
                    _job(session, self.job.id)  # opens the transaction (SQLite: takes the write lock) before any savepoint
                    tally = _Tally()
                    for number, values in chunk:
                        importer.apply(session, number, values, tally)
                    if not write:
                        session.rollback()
                    job = self._owned(session)
                    if job.processed_rows != done:  # another worker committed chunks meanwhile
                        raise LeaseLost(self.job.id)
                    tally.add_to(job, len(chunk))
                done += len(chunk)
                if self.progress:
                    self.progress(done, total)
                if self.stopping():
                    return False
        finally:
            sheet.close()

    def _all_or_nothing(self, data: bytes, total: int) -> str:
        """A dry run of the whole file; then, if no row is bad, every write in one transaction."""
        if not self._in_chunks(data, total, write=False):
            return "running"
        with session_scope(self.factory) as session:
            job = self._owned(session)
            if job.failed:
                job.created = job.updated = job.skipped = 0
                return _end(session, job, "failed", f"nothing imported: {job.failed} rows have errors (all_or_nothing)")
        sheet = parsing.open_sheet(data, self.job.filename, self.job.side)
        try:
            importer = _Importer(self.job, sheet)
            tally = _Tally()
            with session_scope(self.factory) as session:
                _job(session, self.job.id)  # opens the transaction before any savepoint (see `_in_chunks`)
                for count, (number, values) in enumerate(sheet.rows, start=1):
                    importer.apply(session, number, values, tally)
                    if tally.failed:
                        raise RuntimeError(f"row {number} failed while writing: {tally.errors[0]['reason']}")
                    if self.progress and count % self.settings.import_chunk_rows == 0:
                        self.progress(count, total)
                job = self._owned(session)
                job.processed_rows = job.created = job.updated = job.skipped = job.failed = 0
                tally.add_to(job, total)
                _end(session, job, "done")
        finally:
            sheet.close()
        if self.progress:
            self.progress(total, total)
        return "done"


class ImportRunner(PeriodicWorker):
    """Claims import jobs from the database one at a time and runs them, so imports never block a request.

    Jobs are not handed to a process: a job uploaded through any process, or left by a worker
    that died (once its lease has run out), is claimed by whichever runner looks first. A pass
    runs every `import_poll_seconds`, and at once when `wake` says this process queued one.
    """

    name = "imports"

    def __init__(self, factory: sessionmaker[Session], settings: Settings):
        super().__init__(settings.import_poll_seconds, log)
        self.factory = factory
        self.settings = settings
        self.owner = worker_id()

    def run_once(self) -> int:
        """Run claimable jobs until there is none left; returns how many were run.

        Stopping ends the current job after its chunk (see `run_job`).
        """
        ran = 0
        while not self.stopping:
            job_id = claim(self.factory, self.settings, self.owner)
            if job_id is None:
                break
            run_job(self.factory, self.settings, job_id, owner=self.owner, stopping=lambda: self.stopping)
            ran += 1
        return ran
