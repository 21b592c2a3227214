"""Import uploads in the database and leases on import jobs, so any worker on any machine runs them

`import_files` holds each unfinished job's uploaded bytes (before, they were a file in the data
directory of the one process that received them). `import_jobs` gains `lease_owner`,
`lease_expires_at` and `heartbeat_at`: a running job belongs to one worker until its lease
expires, and then any worker may take it over.

Jobs still queued or running at the upgrade keep their upload: its file is read from the
`imports` folder of the data directory the upgrade runs with (`TECHMATCH_DATA_DIR`, as for
`techmatch db upgrade`) into `import_files`. A job whose file is not there fails when a worker
takes it, saying to upload the file again. The files themselves are left in place (nothing reads
them any more; the folder may be deleted). Downgrading drops the uploads of unfinished jobs.

Revision ID: 0011
Revises: 0010
Create Date: 2026-11-26
"""

from pathlib import Path

import sqlalchemy as sa
from alembic import op

from app.config import Settings

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "import_files",
        sa.Column("job_id", sa.Integer(), sa.ForeignKey("import_jobs.id", ondelete="CASCADE"), primary_key=True),
        sa.Column("data", sa.LargeBinary(), nullable=False),
    )
    with op.batch_alter_table("import_jobs") as batch_op:
        batch_op.add_column(sa.Column("lease_owner", sa.String(length=120), nullable=True))
        batch_op.add_column(sa.Column("lease_expires_at", sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column("heartbeat_at", sa.DateTime(timezone=True), nullable=True))
    _copy_uploads_from_disk(Settings().data_dir / "imports")


def _copy_uploads_from_disk(folder: Path) -> None:
    """Unfinished jobs' files (named `<job id><suffix>` by the previous version) into `import_files`."""
    connection = op.get_bind()
    jobs = connection.execute(sa.text("SELECT id, filename FROM import_jobs WHERE status IN ('queued', 'running')")).all()
    files = sa.table("import_files", sa.column("job_id", sa.Integer()), sa.column("data", sa.LargeBinary()))
    for job_id, filename in jobs:
        path = folder / f"{job_id}{Path(filename).suffix.lower()}"
        if path.is_file():
            connection.execute(files.insert().values(job_id=job_id, data=path.read_bytes()))


def downgrade() -> None:
    # Rebuilt on SQLite (dropping columns): keep AUTOINCREMENT, which migration 0009 gave the table.
    with op.batch_alter_table("import_jobs", table_kwargs={"sqlite_autoincrement": True}) as batch_op:
        batch_op.drop_column("heartbeat_at")
        batch_op.drop_column("lease_expires_at")
        batch_op.drop_column("lease_owner")
    op.drop_table("import_files")
