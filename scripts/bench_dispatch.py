"""Cost of standing matchmaking per published record, with N records on file and S saved searches.

    python scripts/bench_dispatch.py N --searches S [--published 100] [--sample 300] [--database URL]

N published records (a fifth demands, the rest achievements; texts from the shared paper
abstracts, sentences shuffled and numbered) are written straight into a fresh database (SQLite
in a temporary folder unless --database names an empty one) with S saved searches whose last
run is "now". Encoding N documents on this CPU would take hours, so only `--sample` texts are
encoded and the other vectors are noisy copies of them (as in bench_matching.py); every text is
still tokenised and BM25-indexed. Then `--published` records are published the ordinary way
(rows and change log in one transaction; half of them reworded copies of a record of the other
side, so strong matches are found and announced), encoded for real by the index keeper, and
the dispatch worker's steps are timed:
- announcing: matching each new record against the other side and writing the notices;
- saved searches: every search runs once over the records published since its last run.
Announcing never reads the saved searches, so its cost per record does not depend on S; the
searches cost one query each per run, shared by all the records published in between.
"""

import argparse
import json
import random
import re
import sys
import tempfile
import time
from datetime import date, timedelta
from pathlib import Path

import numpy as np
from sqlalchemy import func, insert, select
from tqdm import tqdm

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from app import migrations  # noqa: E402
from app.achievements.models import Achievement  # noqa: E402
from app.brokerage.models import BrokerAssignment  # noqa: E402
from app.changelog import IndexChange, log_change  # noqa: E402
from app.clock import china_today  # noqa: E402
from app.config import Settings  # noqa: E402
from app.database import make_engine, make_session_factory, session_scope, utcnow  # noqa: E402
from app.demands.models import Demand  # noqa: E402
from app.dispatch import service  # noqa: E402
from app.dispatch.models import CURSOR_ID, DispatchCursor, SavedSearch  # noqa: E402
from app.matching.engine import MatchEngine  # noqa: E402
from app.matching.keeper import IndexKeeper, cached_encoder  # noqa: E402
from app.matching.text import document_text  # noqa: E402
from app.notifications.models import Notification  # noqa: E402
from app.organizations.models import Organization  # noqa: E402

DATA = Path("/work/shared/data/csl_dev.jsonl")
SENTENCE_END = re.compile(r"(?<=[。；;.!?！？])")
CHUNK = 2000


def shuffled(text: str, rng: random.Random) -> str:
    sentences = [s for s in SENTENCE_END.split(text) if s]
    rng.shuffle(sentences)
    return "".join(sentences)


def record_values(side: str, paper: dict, number: int, owner: int, rng: random.Random) -> dict:
    """One published row of `side` from a paper: its title, keywords and (shuffled) abstract."""
    common = {"title": paper["title"][:190] + f" {number}", "keywords": paper["keywords"][:5], "status": "published",
              "owner_org_id": owner, "published_at": utcnow(), "fields": [], "contact": {}}
    text = shuffled(paper["abstract"], rng) + f" 编号{number}"
    if side == "demands":
        return {**common, "title": "寻求" + common["title"], "description": text, "cooperation_modes": [],
                "deadline": date.today() + timedelta(days=180)}
    return {**common, "abstract": text, "patents": [], "transfer_modes": [], "team": {}, "institution": ""}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("n", type=int, help="published records on file before the measured ones")
    parser.add_argument("--searches", type=int, default=1000, help="saved searches")
    parser.add_argument("--published", type=int, default=100, help="records published and dispatched (measured)")
    parser.add_argument("--sample", type=int, default=300, help="texts encoded for real; the rest get noisy copies")
    parser.add_argument("--database", help="an empty database URL (default: SQLite in a temporary folder)")
    args = parser.parse_args()
    rng = random.Random(0)
    papers = [json.loads(line) for line in DATA.open(encoding="utf-8")]
    folder = Path(tempfile.mkdtemp(prefix="bench_dispatch_"))
    settings = Settings(data_dir=folder, database_url=args.database)
    url = settings.resolved_database_url
    migrations.upgrade(url)
    engine = make_engine(url)
    factory = make_session_factory(engine)

    # Organizations: 200 enterprises, 50 universities, 10 broker agencies acting for 20 of them each.
    with session_scope(factory) as session:
        def orgs(kind: str, count: int) -> list[int]:
            rows = [{"name": f"{kind}-{i}", "kind": kind, "contact": {}} for i in range(count)]
            return list(session.scalars(insert(Organization).returning(Organization.id, sort_by_parameter_order=True), rows))

        enterprises, universities, brokers = orgs("enterprise", 200), orgs("university", 50), orgs("broker_agency", 10)
        clients = enterprises + universities
        session.execute(insert(BrokerAssignment), [
            {"broker_org_id": broker, "org_id": org} for broker in brokers for org in rng.sample(clients, 20)
        ])
    owners = {"demands": enterprises, "achievements": universities}

    # N records on file, inserted without the change log (they are the library, not news).
    encoder = cached_encoder(settings.encoder, settings.encoder_query_prefix, settings.encoder_document_prefix, 2)
    match_engine = MatchEngine(encoder, index_kind=settings.index_kind)
    counts = {"demands": args.n // 5, "achievements": args.n - args.n // 5}
    sample_vectors: np.ndarray | None = None
    started = time.perf_counter()
    for side, model in (("demands", Demand), ("achievements", Achievement)):
        with tqdm(total=counts[side], desc=f"writing and indexing {side}", unit="rec") as bar:
            for start in range(0, counts[side], CHUNK):
                rows = [
                    record_values(side, papers[i % len(papers)], i, rng.choice(owners[side]), rng)
                    for i in range(start, min(start + CHUNK, counts[side]))
                ]
                with session_scope(factory) as session:
                    ids = list(session.scalars(insert(model).returning(model.id, sort_by_parameter_order=True), rows))
                texts = [document_text(r["title"], r["keywords"], r.get("description") or r.get("abstract")) for r in rows]
                if sample_vectors is None:
                    sample_vectors = encoder.encode_documents(texts[: args.sample])
                rows_vectors = sample_vectors[np.arange(len(ids)) % len(sample_vectors)]
                noisy = rows_vectors + np.random.default_rng(start).normal(0, 0.02, rows_vectors.shape)
                noisy = (noisy / np.linalg.norm(noisy, axis=1, keepdims=True)).astype(np.float32)
                match_engine.add_encoded(side, ids, noisy, texts)
                bar.update(len(ids))
    print(f"library: {counts} in {time.perf_counter() - started:.0f}s ({args.sample} texts encoded for real)")

    # S saved searches, their last run now; the dispatcher's cursor at the end of the log.
    with session_scope(factory) as session:
        log_change(session, side="demands", record_id=1)  # a change already indexed: the log's start
        session.flush()
        position = session.scalar(select(func.max(IndexChange.seq)))
        targets = ["achievements", "demands"]
        session.execute(insert(SavedSearch), [
            {"org_id": rng.choice(clients + brokers), "name": f"订阅{i}", "target": targets[i % 2],
             "text": papers[rng.randrange(len(papers))]["title"], "filters": {}, "frequency": "immediately",
             "min_band": "possible", "covered_seq": position, "next_run_at": utcnow()}
            for i in range(args.searches)
        ])
        session.merge(DispatchCursor(id=CURSOR_ID, seq=position))
    keeper = IndexKeeper(match_engine, factory, folder / "index", save_every=10**9)
    keeper.applied_seq = position

    # The measured records: published the ordinary way (row and change log in one transaction).
    with session_scope(factory) as session:
        library = {
            side: list(session.execute(select(model.title, model.keywords, model.text_column()).limit(args.published)))
            for side, model in (("demands", Demand), ("achievements", Achievement))
        }
        for i in range(args.published):
            side = "achievements" if i % 4 else "demands"
            values = record_values(side, papers[rng.randrange(len(papers))], args.n + i, rng.choice(owners[side]), rng)
            if i % 2:  # a reworded copy of a record of the other side: a strong match to announce
                other = "demands" if side == "achievements" else "achievements"
                title, keywords, text = library[other][i % len(library[other])]
                text_attr = "description" if side == "demands" else "abstract"
                values.update({"title": title.removeprefix("寻求")[:190], "keywords": keywords, text_attr: shuffled(text, rng)})
            record = (Demand if side == "demands" else Achievement)(**values)
            session.add(record)
            session.flush()
            log_change(session, side=side, record_id=record.id)
    started = time.perf_counter()
    keeper.catch_up()
    encode_ms = (time.perf_counter() - started) * 1000 / args.published

    started = time.perf_counter()
    passed = 0
    with tqdm(total=args.published, desc="announcing", unit="change") as bar:
        while done := service.announce_batch(
            factory, keeper, limit=settings.dispatch_batch, k=settings.dispatch_matches, daily_cap=settings.dispatch_daily_cap,
            today=china_today(),
        ):
            passed += done
            bar.update(done)
    announce_ms = (time.perf_counter() - started) * 1000

    started = time.perf_counter()
    now, runs, sent = utcnow(), 0, 0
    with tqdm(total=args.searches, desc="saved searches", unit="search") as bar:
        while True:
            notices, ran = service.run_saved_searches(
                factory, keeper, now=now, limit=settings.dispatch_batch, k=settings.saved_search_results
            )
            runs, sent = runs + ran, sent + notices
            bar.update(ran)
            if ran < settings.dispatch_batch:
                break
    searches_ms = (time.perf_counter() - started) * 1000
    with session_scope(factory, read_only=True) as session:
        notified = dict(session.execute(select(Notification.kind, func.count()).group_by(Notification.kind)).all())

    print(f"records on file: {args.n}, saved searches: {args.searches}, published and dispatched: {args.published} ({engine.dialect.name})")
    print(f"encoding by the index keeper (not dispatch): {encode_ms:.1f} ms per record")
    print(f"announcing: {announce_ms / args.published:.1f} ms per published record ({announce_ms:.0f} ms for {passed} changes)")
    print(f"saved searches: {runs} runs in {searches_ms:.0f} ms ({searches_ms / max(runs, 1):.1f} ms per search), "
          f"{searches_ms / args.published:.1f} ms per published record when the {args.published} share one run")
    print(f"dispatch total: {(announce_ms + searches_ms) / args.published:.1f} ms per published record")
    print(f"notifications written: {notified}")


if __name__ == "__main__":
    main()
