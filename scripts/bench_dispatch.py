"""Cost of standing matchmaking per published record, with N records on file and 0, 100, 1,000 saved searches.

    python scripts/bench_dispatch.py N [--searches 0,100,1000] [--published 100] [--sample 300] [--database URL]

Nothing of the library is encoded: N published records (a fifth demands, the rest
achievements; texts from the shared paper abstracts, sentences shuffled and numbered) are
inserted in bulk into a fresh database (SQLite in a temporary folder unless --database names
an empty one) together with their stored vectors (`record_vectors`): synthetic ones, noisy
copies of `--sample` encoded paper texts, and the BM25 tokens of their paper (tokenised once per
paper). The index keeper then builds its index from those rows, as a fresh replica does.

Then, for each number S of saved searches in the same run: S searches (paper titles, each level
with new texts) are made due with their last run "now", `--published` records are published the
ordinary way (row and change log in one transaction; half of them reworded copies of a record
of the other side, so strong matches are found), encoded for real by the index keeper, and the
dispatch worker's steps are timed:
- announcing: matching each new record against the other side and writing the notices (never
  reads the saved searches);
- saved searches, before: the former design, one `rank_text` per search and run over the
  records published since (its query encoded, BM25 over the whole list, one SQL query each);
- saved searches, after: the worker's batch (`run_saved_searches`): all searches rated at once
  over the new records, query vectors remembered from the previous run.
Both saved-search timings cover the same searches over the same records; their cost is shared by
the records published in between, so it is reported per published record too.
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
from sqlalchemy import func, insert, select, update
from tqdm import tqdm

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from app import migrations  # noqa: E402
from app.achievements.models import Achievement  # noqa: E402
from app.brokerage.models import BrokerAssignment  # noqa: E402
from app.changelog import IndexChange, last_seq, log_change  # noqa: E402
from app.clock import china_today  # noqa: E402
from app.config import Settings  # noqa: E402
from app.database import make_engine, make_session_factory, session_scope, utcnow  # noqa: E402
from app.demands.models import Demand  # noqa: E402
from app.dispatch import service  # noqa: E402
from app.dispatch.models import CURSOR_ID, DispatchCursor, SavedSearch  # noqa: E402
from app.listings import service as listings  # noqa: E402
from app.matching import store  # noqa: E402
from app.matching.keeper import IndexKeeper, cached_encoder  # noqa: E402
from app.matching.lexical import Tokenizer  # noqa: E402
from app.matching.service import parse_filters, rank_text  # noqa: E402
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


def library_rows(side: str, count: int, encoder_name: str, samples: np.ndarray, papers: list[dict], tokens: list[str],
                 owners: list[int], rng: random.Random, factory) -> None:
    """Insert `count` published records of `side` and their stored vectors, in chunks, with a progress bar."""
    model = Demand if side == "demands" else Achievement
    with tqdm(total=count, desc=f"inserting {side} and their vectors", unit="rec") as bar:
        for start in range(0, count, CHUNK):
            numbers = range(start, min(start + CHUNK, count))
            rows = [record_values(side, papers[i % len(papers)], i, rng.choice(owners), rng) for i in numbers]
            noise = np.random.default_rng(start).normal(0, 0.02, (len(rows), samples.shape[1]))
            vectors = samples[np.arange(start, start + len(rows)) % len(samples)] + noise
            vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
            with session_scope(factory) as session:
                ids = list(session.scalars(insert(model).returning(model.id, sort_by_parameter_order=True), rows))
                # The text hash is a placeholder: loading the index does not check it, only an edit would.
                store.write(session, side=side, encoder=encoder_name, rows=[
                    (record_id, store.text_hash(f"{side}-{record_id}"), vector, tokens[i % len(papers)].split() + [str(i)])
                    for record_id, vector, i in zip(ids, vectors, numbers, strict=True)
                ])
            bar.update(len(rows))


def publish(factory, keeper: IndexKeeper, papers: list[dict], owners: dict[str, list[int]], count: int, first: int,
            rng: random.Random) -> float:
    """Publish `count` records the ordinary way (half reworded copies of the other side); returns ms per record to index them."""
    with session_scope(factory) as session:
        library = {
            side: list(session.execute(select(model.title, model.keywords, model.text_column()).limit(count)))
            for side, model in (("demands", Demand), ("achievements", Achievement))
        }
        for i in range(count):
            side = "achievements" if i % 4 else "demands"
            values = record_values(side, papers[rng.randrange(len(papers))], first + i, rng.choice(owners[side]), rng)
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
    return (time.perf_counter() - started) * 1000 / count


def due_searches(factory, position: int, total: int, level: int, papers: list[dict], clients: list[int], rng: random.Random) -> None:
    """`total` saved searches with new texts, all due, their last run at `position`."""
    targets = ["achievements", "demands"]
    with session_scope(factory) as session:
        have = session.scalar(select(func.count()).select_from(SavedSearch)) or 0
        if total > have:
            session.execute(insert(SavedSearch), [
                {"org_id": rng.choice(clients), "name": f"订阅{i}", "target": targets[i % 2], "text": "", "filters": {},
                 "frequency": "immediately", "min_band": "possible", "covered_seq": position, "next_run_at": utcnow()}
                for i in range(have, total)
            ])
        for search_id in session.scalars(select(SavedSearch.id)):
            session.execute(update(SavedSearch).where(SavedSearch.id == search_id).values(
                text=f"{papers[rng.randrange(len(papers))]['title']} {level}", covered_seq=position, next_run_at=utcnow(),
            ))


def searches_before(factory, keeper: IndexKeeper, k: int) -> tuple[float, int]:
    """The former design: one rank_text per due search over the records published since its last run; (ms, runs)."""
    started = time.perf_counter()
    runs = 0
    with session_scope(factory, read_only=True) as session:
        for search in session.scalars(select(SavedSearch)):
            among = set(session.scalars(select(IndexChange.record_id).where(
                IndexChange.side == search.target, IndexChange.seq > search.covered_seq, IndexChange.seq <= keeper.applied_seq)))
            model = Demand if search.target == "demands" else Achievement
            allowed = listings.published_ids(session, model=model, filters=parse_filters(search.target, {}), among=among)
            rank_text(session, keeper, text=search.text, target=search.target, allowed=allowed, k=k, include_weak=True)
            runs += 1
    return (time.perf_counter() - started) * 1000, runs


def searches_after(factory, keeper: IndexKeeper, settings: Settings, total: int) -> tuple[float, int, int]:
    """The worker's batched runs of every due search; (ms, runs, notifications)."""
    started = time.perf_counter()
    now, runs, sent = utcnow(), 0, 0
    with tqdm(total=total, desc="saved searches (batch)", unit="search", leave=False) as bar:
        while True:
            notices, ran = service.run_saved_searches(
                factory, keeper, now=now, limit=settings.dispatch_batch, k=settings.saved_search_results
            )
            runs, sent = runs + ran, sent + notices
            bar.update(ran)
            if ran < settings.dispatch_batch:
                break
    return (time.perf_counter() - started) * 1000, runs, sent


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("n", type=int, help="published records on file before the measured ones")
    parser.add_argument("--searches", default="0,100,1000", help="saved-search counts measured in turn, comma-separated")
    parser.add_argument("--published", type=int, default=100, help="records published and dispatched per count (measured)")
    parser.add_argument("--sample", type=int, default=300, help="paper texts encoded to seed the synthetic vectors")
    parser.add_argument("--database", help="an empty database URL (default: SQLite in a temporary folder)")
    args = parser.parse_args()
    levels = [int(level) for level in args.searches.split(",")]
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

    # The library: rows and stored synthetic vectors in bulk, nothing encoded but the seed sample.
    encoder = cached_encoder(settings.encoder, settings.encoder_query_prefix, settings.encoder_document_prefix, 2,
                             settings.encoder_backend, settings.encoder_max_tokens)
    texts = [document_text(p["title"], p["keywords"], p["abstract"]) for p in papers]
    samples = encoder.encode_documents(texts[: args.sample]).astype(np.float64)
    tokenizer = Tokenizer()
    tokens = [" ".join(tokenizer.tokenize(text)) for text in tqdm(texts, desc="tokenising the papers", unit="paper")]
    counts = {"demands": args.n // 5, "achievements": args.n - args.n // 5}
    started = time.perf_counter()
    for side in counts:
        library_rows(side, counts[side], encoder.name, samples, papers, tokens, owners[side], rng, factory)
    inserted = time.perf_counter() - started
    started = time.perf_counter()
    keeper = IndexKeeper.open(settings.model_copy(update={"encoder_threads": 2}), factory)
    print(f"library: {counts} inserted with stored synthetic vectors in {inserted:.0f}s (no record encoded; {args.sample} "
          f"paper texts encoded to seed them), index built from the stored rows in {time.perf_counter() - started:.0f}s")

    with session_scope(factory) as session:
        log_change(session, side="demands", record_id=1)  # the log's start: the dispatcher starts after it
        session.flush()
        position = last_seq(session)
        session.merge(DispatchCursor(id=CURSOR_ID, seq=position))
    keeper.catch_up()

    print(f"records on file: {args.n}, published and dispatched per count: {args.published} ({engine.dialect.name}, "
          f"2 shared cores, other work running)")
    print("searches | index ms/rec | announce ms/rec | searches before: ms/run, ms/rec | searches after: ms/run, ms/rec | "
          "dispatch total ms/rec before → after")
    first = args.n
    for level in levels:
        with session_scope(factory, read_only=True) as session:
            position = last_seq(session)
        due_searches(factory, position, level, level, papers, clients + brokers, rng)
        index_ms = publish(factory, keeper, papers, owners, args.published, first, rng)
        first += args.published
        started = time.perf_counter()
        passed = 0
        while done := service.announce_batch(
            factory, keeper, limit=settings.dispatch_batch, k=settings.dispatch_matches, daily_cap=settings.dispatch_daily_cap,
            today=china_today(),
        ):
            passed += done
        announce_ms = (time.perf_counter() - started) * 1000 / args.published
        before_ms, runs = searches_before(factory, keeper, settings.saved_search_results)
        after_ms, after_runs, sent = searches_after(factory, keeper, settings, level)
        assert runs == after_runs == level, (runs, after_runs, level)
        per_run = (before_ms / max(runs, 1), after_ms / max(runs, 1))
        print(f"{level:8d} | {index_ms:11.1f} | {announce_ms:15.1f} | {per_run[0]:8.1f}, {before_ms / args.published:7.1f} | "
              f"{per_run[1]:7.2f}, {after_ms / args.published:7.1f} | "
              f"{announce_ms + before_ms / args.published:.1f} → {announce_ms + after_ms / args.published:.1f}"
              f"   ({passed} changes announced, {sent} saved-search notices)")
    with session_scope(factory, read_only=True) as session:
        notified = dict(session.execute(select(Notification.kind, func.count()).group_by(Notification.kind)).all())
    print(f"notifications written: {notified}")


if __name__ == "__main__":
    main()
