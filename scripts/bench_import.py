"""Speed and memory of a bulk import of N achievements from an .xlsx.

    python scripts/bench_import.py N [--chunk 200]

Generates an N-row spreadsheet with the importer's Chinese headers (titles, abstracts and
keywords cycled from the shared paper abstracts, with a serial number so no two rows are
identical), then imports it through the service code path (`app.imports.service.create_job`
and `run_job`: parsing, validation with the API's schema, writes with history and the
matching change log) into a fresh SQLite database in a temporary directory.

The import runs in a child process, so its peak memory (ru_maxrss) is the import's alone.
Encoding the records for matching is NOT part of the timing: the service's index worker
does it afterwards, from the change log.
"""

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

CORPUS = REPO.parent / "shared" / "data" / "csl_dev.jsonl"
FIELD_LABELS = ["电子信息/半导体", "碳纤维及新材料", "汽车及零部件", "现代农业", "医药健康", "新能源/氢能", "人工智能与数字经济"]
MATURITY_LABELS = ["实验室", "小试", "中试", "产业化"]
REGIONS = ["吉林省/长春市/朝阳区", "吉林省/吉林市/昌邑区", "220502", "吉林省/长春市"]


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


def run_import(path: Path, data_dir: Path, chunk: int) -> None:
    """The child: migrate, register an organization, import, print one JSON line of results."""
    from app import migrations
    from app.auth import Principal
    from app.config import Settings
    from app.database import make_engine, make_session_factory, session_scope
    from app.imports import service
    from app.imports.models import ImportJob
    from app.organizations import service as organizations
    from app.organizations.schemas import OrganizationCreate

    settings = Settings(data_dir=data_dir, import_chunk_rows=chunk)
    migrations.upgrade(settings.resolved_database_url)
    factory = make_session_factory(make_engine(settings.resolved_database_url))
    with session_scope(factory) as session:
        org = organizations.create(session, data=OrganizationCreate(name="吉林大学", kind="university", region="220102"))
        org_id = org.id
    started = time.perf_counter()
    owner = service.worker_id()
    with session_scope(factory) as session:
        job = service.create_job(
            session, settings=settings, side="achievements", mode="commit", all_or_nothing=False, filename=path.name,
            data=path.read_bytes(), actor=Principal(key_id=None, org_id=org_id, role="owner"), owner=owner,
        )
        job_id = job.id
    status = service.run_job(factory, settings, job_id, owner=owner)
    seconds = time.perf_counter() - started
    with session_scope(factory) as session:
        job = session.get(ImportJob, job_id)
        result = {"status": status, "rows": job.processed_rows, "created": job.created, "failed": job.failed, "seconds": seconds}
    print(json.dumps(result))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("n", type=int)
    parser.add_argument("--chunk", type=int, default=200, help="rows per transaction")
    parser.add_argument("--child", nargs=2, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        run_import(Path(args.child[0]), Path(args.child[1]), args.chunk)
        return
    with tempfile.TemporaryDirectory(prefix="techmatch-bench-") as folder:
        path = Path(folder) / f"achievements-{args.n}.xlsx"
        started = time.perf_counter()
        generate(args.n, path)
        print(f"generated {args.n} rows in {time.perf_counter() - started:.1f}s ({path.stat().st_size / 1e6:.1f} MB .xlsx)")
        child = subprocess.run(
            [sys.executable, __file__, str(args.n), "--chunk", str(args.chunk), "--child", str(path), str(Path(folder) / "data")],
            capture_output=True, text=True,
        )
        if child.returncode:
            sys.exit(f"the import failed:\n{child.stderr}")
        result = json.loads(child.stdout.strip().splitlines()[-1])
        peak_mb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
        print(
            f"imported {result['rows']} rows ({result['created']} created, {result['failed']} failed, job {result['status']}) "
            f"in {result['seconds']:.1f}s: {result['rows'] / result['seconds']:.0f} rows/s; "
            f"peak memory of the import process {peak_mb:.0f} MB (SQLite, {args.chunk} rows per transaction)"
        )
        print("parsing + validation + database writes (records, history, change log, import links) only; "
              "encoding for matching happens afterwards in the service's index worker and is not timed here")


if __name__ == "__main__":
    main()
