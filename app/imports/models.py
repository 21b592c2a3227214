"""Import jobs (导入任务) and the links from an office's own record codes to ours."""

from datetime import datetime

from sqlalchemy import JSON, ForeignKey, LargeBinary, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from app.database import Base, UTCDateTime, utcnow


class ImportJob(Base):
    """One uploaded file and how far its import has come.

    `processed_rows` counts the data rows whose outcome is committed; it moves in the same
    transaction as the rows themselves, so a job interrupted by a crash resumes right after
    its last committed chunk.

    A running job is leased to one process (`lease_owner`, host:pid:random) until
    `lease_expires_at`; the owner extends the lease with every chunk and on a timer
    (`heartbeat_at`). A job whose lease has expired, or that has none, may be claimed by any
    worker: that is how the job of a dead worker is resumed on another machine.

    `errors` is the whole row report: the bad rows, and notes
    (`"note": true`) on cells of imported rows that were read but not applied (a 状态 the
    import may not set).
    """

    __tablename__ = "import_jobs"

    id: Mapped[int] = mapped_column(primary_key=True)
    side: Mapped[str] = mapped_column(String(20))
    org_id: Mapped[int] = mapped_column(ForeignKey("organizations.id"), index=True)
    key_id: Mapped[int | None]
    role: Mapped[str] = mapped_column(String(12))
    mode: Mapped[str] = mapped_column(String(12))
    all_or_nothing: Mapped[bool] = mapped_column(default=False)
    filename: Mapped[str] = mapped_column(String(255))
    status: Mapped[str] = mapped_column(String(12), index=True)
    message: Mapped[str] = mapped_column(String(500), default="")
    total_rows: Mapped[int | None]
    processed_rows: Mapped[int] = mapped_column(default=0)
    created: Mapped[int] = mapped_column(default=0)
    updated: Mapped[int] = mapped_column(default=0)
    skipped: Mapped[int] = mapped_column(default=0)
    failed: Mapped[int] = mapped_column(default=0)
    errors: Mapped[list] = mapped_column(JSON, default=list)
    ignored_columns: Mapped[list] = mapped_column(JSON, default=list)
    lease_owner: Mapped[str | None] = mapped_column(String(120))
    lease_expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    heartbeat_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    @property
    def row_errors(self) -> list[dict]:
        return [entry for entry in self.errors if not entry.get("note")]

    @property
    def row_notes(self) -> list[dict]:
        return [entry for entry in self.errors if entry.get("note")]


class ImportFile(Base):
    """The uploaded bytes of a job, in the database so that a worker on any machine can read them.

    A table of its own, so listing or polling jobs never loads a file. The row is deleted when
    its job ends (the job keeps its report) and with its job (ON DELETE CASCADE).
    """

    __tablename__ = "import_files"

    job_id: Mapped[int] = mapped_column(ForeignKey("import_jobs.id", ondelete="CASCADE"), primary_key=True)
    data: Mapped[bytes] = mapped_column(LargeBinary)


class ImportLink(Base):
    """原系统编号 → record: what makes re-importing a file update instead of duplicate.

    `content_hash` is the hash of the row's validated body at its last import, so an unchanged
    row is skipped without touching the record.
    """

    __tablename__ = "import_links"
    __table_args__ = (UniqueConstraint("side", "owner_org_id", "external_code", name="uq_import_links_code"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    side: Mapped[str] = mapped_column(String(20))
    owner_org_id: Mapped[int] = mapped_column(ForeignKey("organizations.id"))
    external_code: Mapped[str] = mapped_column(String(64))
    record_id: Mapped[int] = mapped_column(index=True)
    content_hash: Mapped[str] = mapped_column(String(64))
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
