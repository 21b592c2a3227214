"""Several processes on one PostgreSQL database: `techmatch serve --role serve` replicas and
`techmatch worker`s, each with its own data directory (nothing shared but the database).

Real child processes, killed with SIGKILL where the point is a worker dying mid-job: its import
is taken over by another worker once its lease runs out, and finishes with every row exactly once.
"""

import os
import re
import signal
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import httpx2 as httpx
import pytest
from conftest import new_database
from live_service import BIN, LiveService, admin_headers
from payloads import achievement
from sqlalchemy import func, select
from test_imports import DEMAND_HEADER, demand_row, xlsx

from app import migrations
from app.achievements.models import Achievement
from app.achievements.schemas import AchievementCreate
from app.auth import Principal
from app.changelog import IndexChange
from app.config import Settings
from app.database import make_engine, make_session_factory, session_scope
from app.demands.models import Demand
from app.imports import service as imports
from app.imports.models import ImportFile, ImportJob, ImportLink
from app.listings import service as listings
from app.matching.models import RecordVector
from app.organizations import service as organizations
from app.organizations.schemas import OrganizationCreate

pytestmark = pytest.mark.slow

# Short leases, so a dead worker's job is taken over within seconds; small chunks, so a job of
# 2,000 rows has forty commits to be killed between (or in the middle of).
LEASES = {
    "TECHMATCH_IMPORT_LEASE_SECONDS": "3",
    "TECHMATCH_IMPORT_HEARTBEAT_SECONDS": "1",
    "TECHMATCH_IMPORT_POLL_SECONDS": "0.5",
    "TECHMATCH_IMPORT_CHUNK_ROWS": "50",
    # The workers' index keepers encode every imported record meanwhile; one thread each leaves a core for the imports.
    "TECHMATCH_ENCODER_THREADS": "1",
}
# On a busy two-core machine an import writes about 20 rows a second.
JOB_SECONDS = 900


@pytest.fixture
def database(tmp_path) -> Iterator[str]:
    with new_database("postgresql", tmp_path) as url:
        migrations.upgrade(url)
        yield url


class Worker:
    """`techmatch worker` in a child process with its own data directory; its log goes to a file."""

    def __init__(self, database_url: str, data_dir: Path):
        data_dir.mkdir(parents=True)
        self.log_path = data_dir / "worker.log"
        env = {**os.environ, **LEASES, "TECHMATCH_DATABASE_URL": database_url, "TECHMATCH_DATA_DIR": str(data_dir)}
        with open(self.log_path, "wb") as log:
            self.process = subprocess.Popen([BIN / "techmatch", "worker"], env=env, stdout=log, stderr=log)

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def stop(self, sig=signal.SIGTERM) -> int:
        if self.process.poll() is None:
            self.process.send_signal(sig)
            try:
                self.process.wait(timeout=60)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        return self.process.returncode


def job_state(factory, job_id: int) -> ImportJob:
    with session_scope(factory, read_only=True) as session:
        job = session.get(ImportJob, job_id)
        assert job is not None
        return job


def wait_until(condition, seconds: float, what: str):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(0.1)
    raise AssertionError(f"{what} did not happen within {seconds} s")


def test_a_worker_killed_mid_import_is_taken_over_and_every_row_lands_once(database, tmp_path):
    engine = make_engine(database)
    factory = make_session_factory(engine)
    workers: list[Worker] = []
    try:
        with LiveService({"TECHMATCH_DATABASE_URL": database, "TECHMATCH_DATA_DIR": str(tmp_path / "replica"), "TECHMATCH_ROLE": "serve",
                          **LEASES}) as replica:
            admin = admin_headers(database)
            org = httpx.post(f"{replica.url}/organizations", json={"name": "长春某汽车零部件有限公司", "kind": "enterprise"}, headers=admin)
            key = httpx.post(f"{replica.url}/organizations/{org.json()['id']}/keys", json={"role": "owner"}, headers=admin).json()["key"]
            content = xlsx([DEMAND_HEADER] + [demand_row(n) for n in range(1, 2001)])
            upload = httpx.post(
                f"{replica.url}/imports", files={"file": ("list.xlsx", content)}, data={"side": "demands"},
                headers={"Authorization": f"Bearer {key}"}, timeout=60,
            )
            assert upload.status_code == 202, upload.text
            job_id = upload.json()["id"]
            time.sleep(3)
            assert job_state(factory, job_id).status == "queued"  # a replica serves HTTP only: no worker, no import

        first = Worker(database, tmp_path / "worker-1")
        workers.append(first)
        # Kill it between 20 % and 80 % of the rows, without warning: no chance to release its lease.
        def part_way() -> int:
            done = job_state(factory, job_id).processed_rows
            return done if 400 <= done <= 1600 else 0

        killed_at = wait_until(part_way, JOB_SECONDS, "20 % of the rows")
        first.stop(signal.SIGKILL)
        stranded = job_state(factory, job_id)
        assert stranded.status == "running" and stranded.lease_owner and stranded.processed_rows < 2000
        assert stranded.processed_rows >= killed_at

        second = Worker(database, tmp_path / "worker-2")
        workers.append(second)
        done = wait_until(lambda: (job := job_state(factory, job_id)).status in ("done", "failed") and job, JOB_SECONDS, "the job's end")
        assert (done.status, done.message) == ("done", "")
        assert (done.total_rows, done.processed_rows, done.created, done.updated, done.skipped, done.failed) == (2000, 2000, 2000, 0, 0, 0)
        assert f"taken over from {stranded.lease_owner}" in second.log()
        with session_scope(factory, read_only=True) as session:
            titles = session.scalars(select(Demand.title)).all()
            assert session.scalar(select(func.count()).select_from(ImportLink)) == 2000
            assert session.get(ImportFile, job_id) is None  # the upload is dropped once the job has ended
        assert len(titles) == 2000 and set(titles) == {f"冬季续航衰减问题{n}" for n in range(1, 2001)}

        assert second.stop() == 0 and "worker stopped" in second.log()
    finally:
        for worker in workers:
            worker.stop(signal.SIGKILL)
        engine.dispose()


def test_two_workers_share_a_queue_and_never_run_a_job_twice(database, tmp_path):
    engine = make_engine(database)
    factory = make_session_factory(engine)
    with session_scope(factory) as session:
        org = organizations.create(session, data=OrganizationCreate(name="吉林市某化工有限公司", kind="enterprise"))
        actor = Principal(key_id=None, org_id=org.id, role="owner")
        job_ids = []
        for batch in range(8):
            rows = [demand_row(batch * 100 + n) for n in range(1, 61)]
            job = imports.create_job(
                session, settings=Settings(), side="demands", mode="commit", all_or_nothing=False,
                filename=f"batch{batch}.xlsx", data=xlsx([DEMAND_HEADER] + rows), actor=actor,
            )
            job_ids.append(job.id)
    workers = [Worker(database, tmp_path / f"worker-{n}") for n in (1, 2)]
    try:
        def all_done():
            return all(job_state(factory, job_id).status == "done" for job_id in job_ids)

        wait_until(all_done, JOB_SECONDS, "every job's end")
        for job_id in job_ids:
            job = job_state(factory, job_id)
            assert (job.processed_rows, job.created, job.updated, job.skipped, job.failed) == (60, 60, 0, 0, 0)
        logs = [worker.log() for worker in workers]
        for job_id in job_ids:  # each job was claimed once, by one of the two, and never taken over
            assert sum(log.count(f"import {job_id} claimed by") for log in logs) == 1, logs
        assert "taken over" not in "".join(logs)
        with session_scope(factory, read_only=True) as session:
            titles = session.scalars(select(Demand.title)).all()
        assert len(titles) == len(set(titles)) == 480
        assert [worker.stop() for worker in workers] == [0, 0]
    finally:
        for worker in workers:
            worker.stop(signal.SIGKILL)
        engine.dispose()


def log_entries(factory) -> dict[int, int]:
    """Change-log entries per record (an encoding writes one)."""
    with session_scope(factory, read_only=True) as session:
        return dict(session.execute(select(IndexChange.record_id, func.count()).group_by(IndexChange.record_id)).all())


def test_two_workers_divide_the_encoding_and_encode_each_record_once(database, tmp_path):
    """Both workers follow the whole change log; the claims (app/matching/claims.py) share the
    records out, so each is encoded by one of them, which logs it once more."""
    factory = make_session_factory(make_engine(database))
    with session_scope(factory) as session:
        org = organizations.create(session, data=OrganizationCreate(name="吉林大学", kind="university"))
        actor = Principal(key_id=None, org_id=org.id, role="owner")
        for n in range(600):
            body = achievement(title=f"第{n}号寒地玉米秸秆还田与黑土保护技术", status="published",
                               abstract=f"第{n}号成果：秸秆深翻还田提升黑土有机质，连续{n % 9 + 2}年试验。")
            listings.create(session, model=Achievement, actor=actor, data=AchievementCreate(**body))
    logged = log_entries(factory)
    workers = [Worker(database, tmp_path / f"worker-{n}") for n in (1, 2)]
    try:
        def all_stored() -> bool:
            with session_scope(factory, read_only=True) as session:
                return session.scalar(select(func.count()).select_from(RecordVector)) == 600
        wait_until(all_stored, JOB_SECONDS, "every record's vector")
        time.sleep(3)  # a last pass each, in case one would still encode something twice
    finally:
        for worker in workers:
            worker.stop()
    assert log_entries(factory) == {record_id: count + 1 for record_id, count in logged.items()}  # one encoding each
    encoded = [sum(int(n) for n in re.findall(r"encoded (\d+) records", worker.log())) for worker in workers]
    assert sum(encoded) == 600 and min(encoded) > 0, encoded
