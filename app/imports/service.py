"""Import jobs: create one from an upload, run it in chunks, resume it after a crash.

Every row goes through the side's Create schema (the API's own rules) and through
`app.listings.service` (the API's own writes), so history and the matching change log are
written exactly as for a POST or PATCH. Rows are committed in chunks of
`settings.import_chunk_rows`; each chunk's transaction also advances the job's
`processed_rows` and counts, so after a crash the job resumes right after its last committed
chunk. A row is written inside a savepoint: a row that fails half-way leaves nothing.

Modes: `commit` imports the good rows and reports the bad ones; `dry_run` runs the same code
and rolls every chunk back; `all_or_nothing` first does a dry run of the whole file and, only
if no row is bad, writes everything in one transaction.
"""

import hashlib
import json
import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from itertools import islice
from pathlib import Path

from pydantic import BaseModel, ValidationError
from pydantic_core import to_jsonable_python
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from app.achievements.models import Achievement
from app.achievements.schemas import AchievementCreate, AchievementUpdate
from app.auth import Principal
from app.config import Settings
from app.database import lock_row, session_scope, utcnow
from app.demands.models import Demand
from app.demands.schemas import DemandCreate, DemandUpdate
from app.errors import AppError, InvalidInput, NotFound
from app.imports import parsing, reasons
from app.imports.columns import STATUS_LABELS
from app.imports.models import ImportJob, ImportLink
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


def _job(session: Session, job_id: int) -> ImportJob:
    job = session.get(ImportJob, job_id)
    if job is None:
        raise _JobGone(job_id)
    return job


def job_file(settings: Settings, job: ImportJob | _Snapshot) -> Path:
    return settings.imports_dir / f"{job.id}{Path(job.filename).suffix.lower()}"


def create_job(
    session: Session, *, settings: Settings, side: str, mode: str, all_or_nothing: bool, filename: str, data: bytes,
    actor: Principal,
) -> ImportJob:
    """A queued job for `data`, stored under the data directory; its header is checked at once (422 if unusable)."""
    actor.require_role("owner", "admin", action=f"import {side}")
    try:
        parsing.file_format(filename)
    except parsing.FileProblem as problem:
        raise InvalidInput(str(problem), ["body", "file"]) from None
    if len(data) > settings.import_max_bytes:
        raise InvalidInput(f"the file is larger than {settings.import_max_bytes} bytes", ["body", "file"])
    job = ImportJob(
        side=side, org_id=actor.org_id, key_id=actor.key_id, role=actor.role, mode=mode, all_or_nothing=all_or_nothing,
        filename=Path(filename).name[-255:], status="queued",
    )
    session.add(job)
    session.flush()
    path = job_file(settings, job)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    try:
        sheet = parsing.open_sheet(path, side)
    except parsing.FileProblem as problem:
        path.unlink(missing_ok=True)
        raise InvalidInput(str(problem), ["body", "file"]) from None
    sheet.close()
    job.ignored_columns = sheet.ignored
    return job


def get_or_raise(session: Session, *, job_id: int, actor: Principal) -> ImportJob:
    """A job of the caller's organization (any job for an admin), else 404."""
    job = session.get(ImportJob, job_id)
    if job is None or not (actor.is_admin or job.org_id == actor.org_id):
        raise NotFound(f"import {job_id} does not exist", ["path", "job_id"])
    return job


def unfinished_ids(session: Session) -> list[int]:
    """Jobs queued or interrupted (a crash leaves them `running`), oldest first."""
    return list(session.scalars(select(ImportJob.id).where(ImportJob.status.in_(("queued", "running"))).order_by(ImportJob.id)))


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
    factory: sessionmaker[Session], settings: Settings, job_id: int, *, progress: Progress | None = None,
    stop: threading.Event | None = None,
) -> str:
    """Run (or resume) one job to its end; returns its final status.

    When `stop` is set the job halts after its current chunk and stays `running`, to be
    resumed by the next start, exactly as after a crash.
    """
    with session_scope(factory) as session:
        job = session.get(ImportJob, job_id)
        if job is None or job.status in FINISHED:
            return job.status if job else "missing"
        job.status = "running"
        job.updated_at = utcnow()
        snapshot = _Snapshot.of(job)
    path = job_file(settings, snapshot)
    try:
        if not path.exists():
            raise parsing.FileProblem("the uploaded file is gone from the data directory")
        total = _count_rows(path, snapshot.side)
        if total > settings.import_max_rows:
            raise parsing.FileProblem(f"{total} rows: at most {settings.import_max_rows} rows per file")
        with session_scope(factory) as session:
            _job(session, job_id).total_rows = total
        if snapshot.all_or_nothing and snapshot.mode == "commit":
            status = _all_or_nothing(factory, settings, snapshot, total, progress, stop)
        elif _in_chunks(factory, settings, snapshot, total, progress, stop, write=snapshot.mode == "commit"):
            status = _finish(factory, job_id, "done")
        else:
            status = "running"
    except parsing.FileProblem as problem:
        status = _finish(factory, job_id, "failed", str(problem))
    except _JobGone:
        log.warning("import %d was deleted while it ran", job_id)
        status = "missing"
    except Exception as error:
        log.exception("import %d failed", job_id)
        status = _finish(factory, job_id, "failed", f"stopped by an internal error after the committed rows: {error}"[:500])
    if status in FINISHED or status == "missing":
        path.unlink(missing_ok=True)
    return status


def _count_rows(path: Path, side: str) -> int:
    sheet = parsing.open_sheet(path, side)
    try:
        return sum(1 for _ in sheet.rows)
    finally:
        sheet.close()


def _finish(factory: sessionmaker[Session], job_id: int, status: str, message: str = "") -> str:
    """Record the job's final status; "missing" when its row was deleted meanwhile."""
    with session_scope(factory) as session:
        job = session.get(ImportJob, job_id)
        if job is None:
            return "missing"
        job.status, job.message, job.updated_at = status, message, utcnow()
    return status


def _in_chunks(factory, settings, snapshot: _Snapshot, total: int, progress, stop, *, write: bool) -> bool:
    """Commit (or, for a dry run, roll back) the rows chunk by chunk, resuming after `processed_rows`.

    Returns False when `stop` halted it before the last row.
    """
    sheet = parsing.open_sheet(job_file(settings, snapshot), snapshot.side)
    try:
        importer = _Importer(snapshot, sheet)
        done = snapshot.processed_rows if write else 0
        if not write:
            _reset(factory, snapshot.id)
        for number, values in islice(sheet.rows, done):
            importer.remember(number, values)
        if progress:
            progress(done, total)
        while True:
            chunk = list(islice(sheet.rows, settings.import_chunk_rows))
            if not chunk:
                break
            with session_scope(factory) as session:
                job = _job(session, snapshot.id)
                # A write first: pysqlite opens its transaction only at a DML statement, and a
                # SAVEPOINT outside a transaction would commit on release.
                job.updated_at = utcnow()
                session.flush()
                tally = _Tally()
                for number, values in chunk:
                    importer.apply(session, number, values, tally)
                if not write:
                    session.rollback()
                    job = _job(session, snapshot.id)
                tally.add_to(job, len(chunk))
            done += len(chunk)
            if progress:
                progress(done, total)
            if stop is not None and stop.is_set():
                return False
    finally:
        sheet.close()
    return True


def _reset(factory, job_id: int) -> None:
    with session_scope(factory) as session:
        job = _job(session, job_id)
        job.processed_rows = job.created = job.updated = job.skipped = job.failed = 0
        job.errors = []


def _all_or_nothing(factory, settings, snapshot: _Snapshot, total: int, progress, stop) -> str:
    """A dry run of the whole file; then, if no row is bad, every write in one transaction."""
    if not _in_chunks(factory, settings, snapshot, total, progress, stop, write=False):
        return "running"
    with session_scope(factory) as session:
        job = _job(session, snapshot.id)
        if job.failed:
            job.status = "failed"
            job.message = f"nothing imported: {job.failed} rows have errors (all_or_nothing)"
            job.created = job.updated = job.skipped = 0
            return job.status
        job.status = "running"
    sheet = parsing.open_sheet(job_file(settings, snapshot), snapshot.side)
    try:
        importer = _Importer(snapshot, sheet)
        tally = _Tally()
        with session_scope(factory) as session:
            job = _job(session, snapshot.id)
            job.processed_rows = job.created = job.updated = job.skipped = job.failed = 0
            job.updated_at = utcnow()
            session.flush()  # the transaction's first write, before any savepoint (see `_in_chunks`)
            for count, (number, values) in enumerate(sheet.rows, start=1):
                importer.apply(session, number, values, tally)
                if tally.failed:
                    raise RuntimeError(f"row {number} failed while writing: {tally.errors[0]['reason']}")
                if progress and count % settings.import_chunk_rows == 0:
                    progress(count, total)
            tally.add_to(job, total)
            job.status, job.updated_at = "done", utcnow()
    finally:
        sheet.close()
    if progress:
        progress(total, total)
    return "done"


class ImportRunner:
    """One background thread that runs queued jobs in order, so imports never block a request."""

    def __init__(self, factory: sessionmaker[Session], settings: Settings):
        self.factory = factory
        self.settings = settings
        self._queue: list[int] = []
        self._wake = threading.Condition()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        """Start the thread and queue the jobs a previous run left unfinished."""
        with session_scope(self.factory) as session:
            pending = unfinished_ids(session)
        if pending:
            log.info("resuming %d unfinished import jobs: %s", len(pending), pending)
        for job_id in pending:
            self.submit(job_id)
        self._thread = threading.Thread(target=self._loop, name="techmatch-imports", daemon=True)
        self._thread.start()

    def submit(self, job_id: int) -> None:
        with self._wake:
            self._queue.append(job_id)
            self._wake.notify()

    def stop(self) -> None:
        """Stop after the current chunk; an unfinished job stays `running` and resumes at the next start."""
        self._stop.set()
        with self._wake:
            self._wake.notify()
        if self._thread is not None:
            self._thread.join()

    def _loop(self) -> None:
        while not self._stop.is_set():
            with self._wake:
                if not self._queue:
                    self._wake.wait(timeout=1.0)
                    continue
                job_id = self._queue.pop(0)
            try:
                run_job(self.factory, self.settings, job_id, stop=self._stop)
            except Exception:
                log.exception("import job %d could not run", job_id)
