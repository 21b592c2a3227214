"""How fast a new process is ready to match when its data directory is empty: the index is built
from the vectors and tokens stored in the database, or loaded from the stored index snapshot;
nothing is encoded.

    python scripts/bench_replica.py 100000 [--database-url postgresql+psycopg://…] [--filled] [--queries 200] [--optimize]

Without --database-url a new PostgreSQL database is created on the local server and dropped at
the end. The database is filled with N published achievements and their stored rows (unless
--filled: it already holds them): the vectors are SYNTHETIC (random unit vectors of the
encoder's dimension), the BM25 tokens are real (the csl_dev papers' texts tokenised, each record
one paper's tokens plus a token of its own). Then two child processes (so each peak RSS is its
own), each a keeper of role `serve` on an empty data directory, as a replica starts:
1. with no snapshot stored: it builds the index from the stored rows, then writes the snapshot
   as an encoding process would (timed apart, not part of its start);
2. with that snapshot: it loads it.
Each reports the seconds from its launch to ready (the index open, the encoder and jieba
loaded, fewer than READY_BEHIND changes pending, one match answered), its peak RSS, and the
latency of --queries free-text matches (csl_dev titles) through the engine. With --optimize each
then builds what the start deferred (`MatchEngine.optimize`: the IVF cells of a side of 20,000 or
more) and times the matches again, before the first writes its snapshot: the second then starts
with the first's centroids and only assigns the vectors to cells. (Random unit rows have no
clusters, so the latency of IVF holds but not its recall: see bench_ann.py for recall.)
"""

import argparse
import importlib
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

import numpy as np
from sqlalchemy import create_engine, insert, text
from sqlalchemy.engine import make_url
from tqdm import tqdm

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

SERVER = "postgresql+psycopg://postgres@127.0.0.1:5432/test"
CORPUS = Path("/work/shared/data/csl_dev.jsonl")
CHUNK = 5_000


def fill(url: str, n: int) -> None:
    from app import migrations
    from app.achievements.models import Achievement
    from app.config import Settings
    from app.database import make_engine, make_session_factory, session_scope
    from app.matching import store
    from app.matching.keeper import cached_encoder
    from app.matching.lexical import Tokenizer
    from app.matching.text import document_text
    from app.organizations.models import Organization

    migrations.upgrade(url)
    settings = Settings()
    encoder = cached_encoder(Path(settings.encoder), "", "", 1, settings.encoder_backend)  # its name keys the rows
    papers = [json.loads(line) for line in CORPUS.read_text(encoding="utf-8").splitlines()]
    tokenizer = Tokenizer()
    texts = [(p["title"], p.get("keywords") or [], p["abstract"]) for p in papers]
    tokens = [tokenizer.tokenize(document_text(*t)) for t in tqdm(texts, desc="tokenising csl_dev", unit="paper")]
    rng = np.random.default_rng(7)
    factory = make_session_factory(make_engine(url))
    with session_scope(factory) as session:
        org = Organization(name="基准测试大学", kind="university")
        session.add(org)
        session.flush()
        org_id = org.id
    with tqdm(total=n, desc="filling records + vectors", unit="rec") as bar:
        for start in range(0, n, CHUNK):
            size = min(CHUNK, n - start)
            picks = rng.integers(0, len(papers), size)
            vectors = rng.standard_normal((size, encoder.dim)).astype(np.float32)
            vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
            with session_scope(factory) as session:
                ids = session.execute(
                    insert(Achievement).returning(Achievement.id),
                    [{"title": texts[p][0][:200], "abstract": texts[p][2], "keywords": texts[p][1], "status": "published",
                      "owner_org_id": org_id} for p in picks.tolist()],
                ).scalars().all()
                store.write(session, side="achievements", encoder=encoder.name, rows=[
                    (record_id, store.text_hash(str(record_id)), vector, [*tokens[p], f"编号{record_id}"])
                    for record_id, vector, p in zip(ids, vectors, picks.tolist(), strict=True)
                ])
            bar.update(size)


def match_latencies(engine: Any, titles: list[str]) -> dict[str, float | None]:
    latencies = []
    for title in titles:
        started = time.perf_counter()
        engine.search_text("achievements", title, k=10)
        latencies.append(time.perf_counter() - started)
    return {f"p{p}": round(float(np.percentile(latencies, p)) * 1000, 1) if latencies else None for p in (50, 95)}


def measure(url: str, launched: float, queries: int, write_snapshot: bool, optimize: bool) -> None:
    """The child: open a serve keeper on an empty data directory, match, print a JSON line."""
    importlib.import_module("app.main")  # what a `techmatch serve` process imports before it opens the index
    from app.config import Settings
    from app.database import make_engine, make_session_factory
    from app.matching.keeper import READY_BEHIND, IndexKeeper

    imported = time.time()
    with tempfile.TemporaryDirectory() as data_dir:
        settings = Settings(database_url=url, data_dir=Path(data_dir), role="serve")
        keeper = IndexKeeper.open(settings, make_session_factory(make_engine(url)))
        opened = time.time()
        while sum(keeper.pending().values()) >= READY_BEHIND and keeper.catch_up(limit=READY_BEHIND):
            pass
        keeper.engine.search_text("achievements", "飞行器姿态控制", k=10)
        ready = time.time()
        usage = resource.getrusage(resource.RUSAGE_SELF)
        titles = [json.loads(line)["title"] for line in CORPUS.read_text(encoding="utf-8").splitlines()][:queries]
        latencies = match_latencies(keeper.engine, titles)
        optimized: dict[str, Any] = {}
        if optimize:
            started = time.perf_counter()
            keeper.engine.optimize()
            optimized["optimize_seconds"] = round(time.perf_counter() - started, 1)
            optimized |= {f"optimized_match_{p}_ms": ms for p, ms in match_latencies(keeper.engine, titles).items()}
            optimized["peak_rss_mb_after_optimize"] = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)
        written = None
        if write_snapshot:
            started = time.perf_counter()
            keeper.write_snapshot()
            written = round(time.perf_counter() - started, 2)
    print(json.dumps({
        "started_from": keeper.started_from,
        "indexed": keeper.engine.count("achievements"),
        "interpreter_and_imports_seconds": round(imported - launched, 2),
        "open_seconds": round(opened - imported, 2),
        "ready_seconds": round(ready - launched, 2),
        "encoded": keeper.encoded,
        "cpu_seconds_at_ready": round(usage.ru_utime + usage.ru_stime, 2),  # both threads; a busy machine stretches the wall time, not this
        "peak_rss_mb_at_ready": round(usage.ru_maxrss / 1024),
        "match_p50_ms": latencies["p50"],
        "match_p95_ms": latencies["p95"],
        **optimized,
        "snapshot_write_seconds": written,
    }))


def run_child(url: str, queries: int, write_snapshot: bool, optimize: bool) -> dict:
    command = [sys.executable, __file__, "0", "--database-url", url, "--measure", str(time.time()), "--queries", str(queries)]
    command += ["--write-snapshot"] * write_snapshot + ["--optimize"] * optimize
    child = subprocess.run(command, capture_output=True, text=True,
                           env={**os.environ, "PYTHONPATH": str(ROOT)})
    if child.returncode:
        sys.exit(child.stderr)
    result: dict = json.loads(child.stdout.strip().splitlines()[-1])
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("n", type=int, help="published records (with stored vectors) to fill the database with")
    parser.add_argument("--database-url", help="an existing PostgreSQL database to fill (default: a new one, dropped after)")
    parser.add_argument("--filled", action="store_true", help="the database already holds the records: do not fill it")
    parser.add_argument("--queries", type=int, default=200, help="matches timed after ready (default 200)")
    parser.add_argument("--optimize", action="store_true", help="then build the IVF cells and time the matches again")
    parser.add_argument("--measure", type=float, help=argparse.SUPPRESS)
    parser.add_argument("--write-snapshot", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.measure:
        measure(args.database_url, args.measure, args.queries, args.write_snapshot, args.optimize)
        return
    admin = None
    url = args.database_url
    if url is None:
        admin = create_engine(SERVER, isolation_level="AUTOCOMMIT")
        name = f"techmatch_bench_{uuid.uuid4().hex[:8]}"
        with admin.connect() as connection:
            connection.execute(text(f'CREATE DATABASE "{name}"'))
        url = make_url(SERVER).set(database=name).render_as_string(hide_password=False)
    try:
        if args.filled:
            from app import migrations

            migrations.upgrade(url)
        else:
            fill(url, args.n)
        engine = create_engine(url)
        with engine.begin() as connection:
            connection.execute(text("DELETE FROM index_snapshot_parts"))
            connection.execute(text("DELETE FROM index_snapshots"))
        engine.dispose()
        print(f"{args.n} records with SYNTHETIC vectors (random unit rows) and real csl_dev tokens; "
              f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores", file=sys.stderr)
        rows = {"from stored rows": run_child(url, args.queries, write_snapshot=True, optimize=args.optimize)}
        rows["from the snapshot"] = run_child(url, args.queries, write_snapshot=False, optimize=args.optimize)
        print(f"load average after: {os.getloadavg()[0]:.1f}", file=sys.stderr)
        print(f"{'':>32}" + "".join(f"{title:>20}" for title in rows))
        for key in rows["from stored rows"]:
            print(f"{key:>32}" + "".join(f"{str(result[key]):>20}" for result in rows.values()))
    finally:
        if admin is not None:
            with admin.connect() as connection:
                connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
            admin.dispose()


if __name__ == "__main__":
    main()
