"""How fast a new process is ready to match when its data directory is empty: the index is built
from the vectors and tokens stored in the database, nothing is encoded.

    python scripts/bench_replica.py 100000 [--database-url postgresql+psycopg://…]

Without --database-url a new PostgreSQL database is created on the local server and dropped at
the end. The database is filled with N published achievements and their stored rows: the
vectors are SYNTHETIC (random unit vectors of the encoder's dimension), the BM25 tokens are
real (the csl_dev papers' texts tokenised, each record one paper's tokens plus a token of its
own). Then a child process (so its peak RSS is its own) opens an IndexKeeper of role `serve` on
an empty data directory and runs one match; it reports the seconds to ready and its peak RSS.
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
from pathlib import Path

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
    from app.matching.models import RecordVector
    from app.matching.text import document_text
    from app.organizations.models import Organization

    migrations.upgrade(url)
    settings = Settings()
    encoder = cached_encoder(Path(settings.encoder), "", "", 1)
    papers = [json.loads(line) for line in CORPUS.read_text(encoding="utf-8").splitlines()]
    tokenizer = Tokenizer()
    texts = [(p["title"], p.get("keywords") or [], p["abstract"]) for p in papers]
    tokens = [" ".join(tokenizer.tokenize(document_text(*t))) for t in tqdm(texts, desc="tokenising csl_dev", unit="paper")]
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
                session.execute(insert(RecordVector), [
                    {"side": "achievements", "record_id": record_id, "encoder": encoder.name, "dim": encoder.dim,
                     "text_hash": store.text_hash(str(record_id)), "vector": store.encode_vector(vector),
                     "tokens": f"{tokens[p]} 编号{record_id}"}
                    for record_id, vector, p in zip(ids, vectors, picks.tolist(), strict=True)
                ])
            bar.update(size)


def measure(url: str) -> None:
    """The child: open a serve keeper on an empty data directory, match once, print a JSON line."""
    started = time.perf_counter()
    from app.config import Settings
    from app.database import make_engine, make_session_factory
    from app.matching.keeper import IndexKeeper, cached_encoder
    from app.matching.lexical import Tokenizer

    with tempfile.TemporaryDirectory() as data_dir:
        settings = Settings(database_url=url, data_dir=Path(data_dir), role="serve")
        cached_encoder(Path(settings.encoder), settings.encoder_query_prefix, settings.encoder_document_prefix, 1)
        Tokenizer()  # jieba's dictionary, read once per process (about 1.4 s on an idle core)
        model_loaded = time.perf_counter()
        keeper = IndexKeeper.open(settings, make_session_factory(make_engine(url)))
        built = time.perf_counter()
        keeper.engine.search_text("achievements", "飞行器姿态控制", k=10)
        matched = time.perf_counter()
    print(json.dumps({
        "indexed": keeper.engine.count("achievements"),
        "imports_model_jieba_seconds": round(model_loaded - started, 2),
        "index_from_store_seconds": round(built - model_loaded, 2),
        "first_match_seconds": round(matched - built, 3),
        "ready_seconds": round(matched - started, 2),
        "encoded": keeper.encoded,
        "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024),
    }))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("n", type=int, help="published records (with stored vectors) to fill the database with")
    parser.add_argument("--database-url", help="an existing PostgreSQL database to fill (default: a new one, dropped after)")
    parser.add_argument("--measure", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.measure:
        measure(args.database_url)
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
        fill(url, args.n)
        print(f"{args.n} records with SYNTHETIC vectors (random unit rows) and real csl_dev tokens; "
              f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores", file=sys.stderr)
        child = subprocess.run([sys.executable, __file__, str(args.n), "--database-url", url, "--measure"],
                               capture_output=True, text=True, env={**os.environ, "PYTHONPATH": str(ROOT)})
        if child.returncode:
            sys.exit(child.stderr)
        result = json.loads(child.stdout.strip().splitlines()[-1])
        for key, value in result.items():
            print(f"{key:>28}: {value}")
    finally:
        if admin is not None:
            with admin.connect() as connection:
                connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
            admin.dispose()


if __name__ == "__main__":
    main()
