"""Ingest of an N-row achievements .xlsx per encoder backend: until committed, until matchable.

    python scripts/bench_import.py N [--backends torch,onnx-int8] [--threads 0,1] [--chunk 200]
                                     [--database-url postgresql+psycopg://…]

Generates an N-row spreadsheet with the importer's Chinese headers. Titles, abstracts and
keywords are the 1,000 shared CSL papers (../shared/data/csl_dev.jsonl) cycled as often as N
needs; every title carries the row's serial number, so no two record texts are the same and
the encoder's memory of recent texts never spares an encoding.

Then, for each backend in turn, a child process does what `techmatch worker` does on a fresh
PostgreSQL database (created on the server of `--database-url`, dropped afterwards): role
`worker`, one encoding thread per core, the index keeper opened and the role's background
workers started (`app.workers.background_workers`: the import runner and the index worker,
among others). The model is loaded before the clock starts. At 0 the job is queued as an upload
queues it, and the child reports, every second on stderr and in the table at the end:

- committed: seconds until the import job is `done` (every row written, with history and the
  change log, 200 rows per transaction);
- matchable: seconds until every imported record has a stored vector of the backend's encoder
  and the keeper has applied every change (GET /health's `pending` 0 on both sides);
- abstracts/s: documents per second inside the encoder's `encode_documents` (the keeper's
  batches, while the import, dispatch and the database share the cores, as in service), and
  "after commit /s": records encoded per second of the wait from committed to matchable, with
  the process's CPU time over that wait (200 % = both of 2 cores);
- peak memory: the child's maximum resident set (model, index, import), and before the import.

`--threads 0,1` runs every backend with each thread count (0: one per core, as the worker
chooses; 1 is what `techmatch serve`, role `all`, uses). Backends run one after the other, so the machine's other
load hits them unequally: the load average is printed before and after each.
"""

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

if TYPE_CHECKING:
    from app.matching.encoder import Encoder

CORPUS = REPO.parent / "shared" / "data" / "csl_dev.jsonl"
SERVER = "postgresql+psycopg://postgres@127.0.0.1:5432/test"
FIELD_LABELS = ["电子信息/半导体", "碳纤维及新材料", "汽车及零部件", "现代农业", "医药健康", "新能源/氢能", "人工智能与数字经济"]
MATURITY_LABELS = ["实验室", "小试", "中试", "产业化"]
REGIONS = ["吉林省/长春市/朝阳区", "吉林省/吉林市/昌邑区", "220502", "吉林省/长春市"]
POLL_SECONDS = 0.25
REPORT_SECONDS = 5


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def generate(n: int, path: Path) -> None:
    from openpyxl import Workbook

    from app.imports.columns import COLUMNS

    papers = [json.loads(line) for line in CORPUS.read_text(encoding="utf-8").splitlines() if line.strip()]
    headers = [c.header for c in COLUMNS["achievements"] if c.key in {
        "external_code", "title", "abstract", "fields", "keywords", "maturity", "transfer_modes", "price_min", "price_max",
        "institution", "team.lead", "region", "contact.name", "contact.phone",
    }]
    workbook = Workbook(write_only=True)
    sheet = workbook.create_sheet("成果")
    sheet.append(headers)
    for i in range(n):
        paper = papers[i % len(papers)]
        values = {
            "原系统编号": f"CSL-{i:06d}",
            "成果名称": f"{paper['title'][:180]}（{i}）",
            "成果简介": paper["abstract"][:19_000],
            "所属领域": FIELD_LABELS[i % len(FIELD_LABELS)],
            "关键词": "；".join(k[:50] for k in paper.get("keywords", [])[:10]),
            "成熟度": MATURITY_LABELS[i % 4],
            "转化方式": "技术转让；技术许可",
            "价格下限(万元)": 10 + i % 90,
            "价格上限(万元)": 100 + i % 400,
            "完成单位": "吉林大学",
            "团队负责人": "李教授",
            "所在地区": REGIONS[i % len(REGIONS)],
            "联系人": "王老师",
            "联系电话": "0431-85166000",
        }
        sheet.append([values[h] for h in headers])
    workbook.save(path)


def peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def cpu_seconds() -> float:
    """This process's CPU time, all threads: 200 % of the wall time is both of 2 cores busy."""
    times = os.times()
    return times.user + times.system


def time_encoding(encoder: "Encoder") -> dict[str, float]:
    """Count the documents `encoder` encodes and the seconds spent inside it (the keeper's batches only)."""
    timed = {"documents": 0, "seconds": 0.0}
    encode = encoder.encode_documents

    def encode_documents(texts: Sequence[str], show_progress: bool = False) -> np.ndarray:
        started = time.perf_counter()
        vectors = encode(texts, show_progress)
        timed["seconds"] += time.perf_counter() - started
        timed["documents"] += len(texts)
        return vectors

    encoder.encode_documents = encode_documents  # type: ignore[method-assign]
    return timed


def ingest(url: str, path: Path, data_dir: Path, backend: str, threads: int, chunk: int) -> dict:
    """The child: a worker process's setup, then one import job timed until committed and matchable."""
    from sqlalchemy import func, select

    from app import migrations
    from app.achievements.models import Achievement
    from app.auth import Principal
    from app.config import Settings
    from app.database import make_engine, make_session_factory, session_scope
    from app.imports import service
    from app.imports.models import ImportJob
    from app.matching import store
    from app.matching.keeper import IndexKeeper
    from app.organizations import service as organizations
    from app.organizations.schemas import OrganizationCreate
    from app.workers import background_workers, pool_size

    settings = Settings(
        database_url=url, data_dir=data_dir, role="worker", encoder_backend=backend,  # type: ignore[arg-type]
        encoder_threads=threads or os.cpu_count() or 1, import_chunk_rows=chunk,
    )
    migrations.upgrade(url)
    engine = make_engine(url, pool_size=pool_size(settings))
    factory = make_session_factory(engine)
    with session_scope(factory) as session:
        org_id = organizations.create(session, data=OrganizationCreate(name="吉林大学", kind="university", region="220102")).id
    keeper = IndexKeeper.open(settings, factory)
    encoder = keeper.engine.encoder.name
    timed = time_encoding(keeper.engine.encoder)
    workers = background_workers(settings, factory, keeper)
    for worker in workers:
        worker.start()
    before_mb = peak_mb()
    log(f"{backend}: encoder {encoder}, {settings.encoder_threads} encoding threads, model loaded ({before_mb:.0f} MB)")

    started = time.perf_counter()
    with session_scope(factory) as session:
        job_id = service.create_job(
            session, settings=settings, side="achievements", mode="commit", all_or_nothing=False, filename=path.name,
            data=path.read_bytes(), actor=Principal(key_id=None, org_id=org_id, role="owner"),
        ).id
    committed: float | None = None
    cpu_at_commit = 0.0
    while True:
        time.sleep(POLL_SECONDS)
        now = time.perf_counter() - started
        with session_scope(factory, read_only=True) as session:
            job = session.get(ImportJob, job_id)
            assert job is not None
            status, rows = job.status, job.processed_rows
            records = session.scalar(select(func.count()).select_from(Achievement)) or 0
            vectors = store.count(session, encoder=encoder)
            pending = sum(keeper.pending(session).values())
        if status not in ("queued", "running") and status != "done":
            sys.exit(f"the import ended {status}")
        if status == "done" and committed is None:
            committed, cpu_at_commit = now, cpu_seconds()
        done = committed is not None and vectors >= records and pending == 0
        if int(now / REPORT_SECONDS) != int((now - POLL_SECONDS) / REPORT_SECONDS) or done:
            log(f"{backend} {now:6.1f}s  job {status:<7} {rows:>6} rows  {vectors:>6}/{records} encoded  {pending:>6} pending  "
                f"load {os.getloadavg()[0]:.1f}")
        if done:
            break
    assert committed is not None
    waited = now - committed
    cpu_percent = 100 * (cpu_seconds() - cpu_at_commit) / waited
    for worker in reversed(workers):
        worker.stop()
    engine.dispose()
    return {
        "backend": encoder, "threads": settings.encoder_threads, "rows": rows, "records": records,
        "committed s": round(committed, 1), "matchable s": round(now, 1), "encoded": keeper.encoded,
        "in the encoder s": round(timed["seconds"], 1), "abstracts/s": round(timed["documents"] / timed["seconds"], 1),
        "after commit /s": round(keeper.encoded / waited, 1), "CPU % after commit": round(cpu_percent),
        "peak MB": round(peak_mb()), "before import MB": round(before_mb),
    }


def run_child(args: argparse.Namespace, backend: str, threads: int, path: Path, folder: Path) -> dict:
    from sqlalchemy import create_engine, text
    from sqlalchemy.engine import make_url

    admin = create_engine(args.database_url, isolation_level="AUTOCOMMIT")
    name = f"techmatch_bench_{uuid.uuid4().hex[:8]}"
    with admin.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    url = make_url(args.database_url).set(database=name).render_as_string(hide_password=False)
    try:
        load = os.getloadavg()[0]
        child = subprocess.run(
            [sys.executable, __file__, str(args.n), "--chunk", str(args.chunk), "--threads", str(threads),
             "--child", url, str(path), str(folder / f"data-{backend}-{threads}"), backend],
            stdout=subprocess.PIPE, text=True,
        )
        if child.returncode:
            sys.exit(f"the {backend} run failed")
        result: dict = json.loads(child.stdout.strip().splitlines()[-1])
        result["load before/after"] = f"{load:.1f}/{os.getloadavg()[0]:.1f}"
        return result
    finally:
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("n", type=int, help="rows in the spreadsheet")
    parser.add_argument("--backends", default="torch,onnx-int8", help="comma-separated, run in this order")
    parser.add_argument("--threads", default="0", help="comma-separated encoding threads, each run with every backend "
                        "(0: one per core, as `techmatch worker`)")
    parser.add_argument("--chunk", type=int, default=200, help="rows per transaction")
    parser.add_argument("--database-url", default=SERVER, help="a PostgreSQL server (a database is created on it per run)")
    parser.add_argument("--child", nargs=4, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        url, path, data_dir, backend = args.child
        print(json.dumps(ingest(url, Path(path), Path(data_dir), backend, int(args.threads), args.chunk)))
        return
    with tempfile.TemporaryDirectory(prefix="techmatch-bench-") as folder:
        path = Path(folder) / f"achievements-{args.n}.xlsx"
        started = time.perf_counter()
        generate(args.n, path)
        log(f"generated {args.n} rows (csl_dev cycled, serial-numbered titles) in {time.perf_counter() - started:.1f}s "
            f"({path.stat().st_size / 1e6:.1f} MB .xlsx); {os.cpu_count()} cores, load average {os.getloadavg()[0]:.1f}")
        results = [
            run_child(args, backend, int(threads), path, Path(folder))
            for threads in args.threads.split(",") for backend in args.backends.split(",")
        ]
    print(f"{'':>18}" + "".join(f"{r['backend']:>24}" for r in results))
    for key in results[0]:
        if key != "backend":
            print(f"{key:>18}" + "".join(f"{str(r[key]):>24}" for r in results))


if __name__ == "__main__":
    main()
