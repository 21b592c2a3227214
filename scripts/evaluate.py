"""Ranking quality of the matching engine on a labelled paper corpus.

Every paper is indexed as an achievement; every title is then used as a
free-text query. Reported per ranking method:
  R@1, R@10, MRR@10  the query's own paper (title -> abstract task)
  P@10 same-discipline precision of the top 10, the query's own paper excluded

The corpus is first loaded the way the service loads records: each paper is
created as a published achievement (validation, history, change log) in a
temporary SQLite database, and the index keeper encodes and indexes it from
the change log. Those rows are marked "service"; the last one queries through
the match endpoint's own function (hard filters, database re-read, ranking
adjustments). Two more document variants follow, built directly in the engine
from cached vectors for speed: "title+kw+abstract" (documents contain the
query title) and "abstract" (abstract only, the fairer title -> abstract
task). With --halves, each half of the corpus is also evaluated as its own
corpus, to see whether a difference between methods is stable.

    python scripts/evaluate.py [--corpus PATH] [--limit N] [--halves] [--cache FILE]

--cache keeps document vectors in an .npz file between runs (keyed by a hash
of the encoder name and the texts), so ranking changes can be compared quickly.
"""

import argparse
import hashlib
import inspect
import json
import os
import sys
import tempfile
import time
from functools import lru_cache
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from app.matching.encoder import DEFAULT_MAX_SEQ_LENGTH, load_encoder  # noqa: E402
from app.matching.engine import MatchEngine  # noqa: E402
from app.matching.text import document_text  # noqa: E402

SIDE = "achievements"
_PLAIN = dict(prf_docs=0, smooth_docs=0, lexical_prf_docs=0, propagate_docs=0)
METHODS = {
    "bm25 only": dict(_PLAIN, fusion="mix", dense_weight=0.0),
    "dense only": dict(_PLAIN, fusion="mix", dense_weight=1.0),
    "hybrid rrf": dict(_PLAIN, fusion="rrf"),
    "hybrid mix": dict(_PLAIN, fusion="mix"),
    "mix+prf": dict(smooth_docs=0, lexical_prf_docs=0, propagate_docs=0),
    "+smoothing": dict(lexical_prf_docs=0, propagate_docs=0),
    "+lexical prf": dict(propagate_docs=0),
    "default (shipped)": {},
}
"""Engine settings per method; anything not given keeps the MatchEngine default."""


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


class CachedQueries:
    """Encoder proxy that remembers query vectors, since every method reuses the same titles."""

    def __init__(self, encoder):
        self._encoder = encoder
        self.name, self.dim, self.max_seq_length = encoder.name, encoder.dim, encoder.max_seq_length
        self.encode_documents = encoder.encode_documents
        self._one = lru_cache(maxsize=None)(lambda text: encoder.encode_queries([text])[0])

    def encode_queries(self, texts):
        return np.stack([self._one(t) for t in texts])


def evaluate(engine: MatchEngine, rows: list[dict], ids: list[int], offset: int = 0) -> dict[str, float]:
    """Metrics of the engine's current settings, querying every title in `ids` (record id = row + offset)."""
    found_rows = [[m.id - offset for m in engine.search_text(SIDE, rows[i]["title"], k=11)] for i in ids]
    return metrics(rows, ids, found_rows)


def document_vectors(encoder, texts: list[str], cache: str | None) -> np.ndarray:
    key = "v" + hashlib.sha256("\n".join([encoder.name, str(encoder.max_seq_length), *texts]).encode()).hexdigest()[:16]
    stored = dict(np.load(cache)) if cache and os.path.exists(cache) else {}
    if key not in stored:
        started = time.time()
        log(f"encoding {len(texts)} documents ...")
        stored[key] = encoder.encode_documents(texts, show_progress=True)
        log(f"  {len(texts) / (time.time() - started):.1f} docs/s")
        if cache:
            np.savez(cache, **stored)
    return stored[key]


def load_through_service(rows: list[dict], encoder_path: str, directory: Path):
    """Create every paper as a published achievement via the service code; returns the caught-up keeper.

    Database ids are 1..N in corpus order, so row i is record i + 1.
    """
    from app import migrations
    from app.achievements.models import Achievement
    from app.achievements.schemas import AchievementCreate
    from app.auth import Principal
    from app.config import Settings
    from app.database import make_engine, make_session_factory, session_scope
    from app.listings import service as listings
    from app.matching import keeper as keeper_module
    from app.organizations import service as organizations
    from app.organizations.schemas import OrganizationCreate

    settings = Settings(data_dir=directory, encoder=Path(encoder_path), encoder_threads=os.cpu_count() or 1)
    migrations.upgrade(settings.resolved_database_url)
    factory = make_session_factory(make_engine(settings.resolved_database_url))
    with session_scope(factory) as session:
        org = organizations.create(session, data=OrganizationCreate(name="评测机构", kind="university"))
        actor = Principal(key_id=0, org_id=org.id, role="owner")
        for row in rows:
            data = AchievementCreate(
                title=row["title"][:200], abstract=row["abstract"][:20_000],
                keywords=[k[:50] for k in row["keywords"] if k.strip()][:30], status="published",
            )
            listings.create(session, model=Achievement, data=data, actor=actor)
    keeper_module.cached_encoder.cache_clear()
    keeper = keeper_module.IndexKeeper.open(settings, factory)
    log(f"indexing {len(rows)} achievements through the change log ...")
    started = time.time()
    keeper.catch_up(show_progress=True)
    log(f"  {len(rows) / (time.time() - started):.1f} docs/s")
    return keeper, factory


def evaluate_service(keeper, factory, rows: list[dict]) -> dict[str, float]:
    """The same metrics through matching.service.match_text, the function behind POST /match."""
    from app.achievements.schemas import AchievementFilters
    from app.database import session_scope
    from app.matching import service

    by_id = {i + 1: i for i in range(len(rows))}
    found_rows = []
    with session_scope(factory) as session:
        for row in rows:
            items = service.match_text(
                session, keeper, text=row["title"], target=SIDE, filters=AchievementFilters(), k=11, prefer_region=None
            )
            found_rows.append([by_id[item["id"]] for item in items])
    return metrics(rows, list(range(len(rows))), found_rows)


def metrics(rows: list[dict], ids: list[int], found_rows: list[list[int]]) -> dict[str, float]:
    hits1 = hits10 = rr = precision = 0.0
    for i, found in zip(ids, found_rows, strict=True):
        rank = found.index(i) + 1 if i in found[:10] else None
        hits1 += rank == 1
        hits10 += rank is not None
        rr += 1 / rank if rank else 0.0
        others = [j for j in found if j != i][:10]
        precision += sum(rows[j]["discipline"] == rows[i]["discipline"] for j in others) / 10
    n = len(ids)
    return {"R@1": hits1 / n, "R@10": hits10 / n, "MRR@10": rr / n, "P@10": precision / n}


def build(encoder, rows, ids, vectors, texts) -> MatchEngine:
    engine = MatchEngine(encoder)
    engine.add_encoded(SIDE, ids, vectors[ids], [texts[i] for i in ids])
    return engine


RANKING_DEFAULTS = {
    name: parameter.default
    for name, parameter in inspect.signature(MatchEngine.__init__).parameters.items()
    if name not in ("self", "encoder", "index_kind")
}
"""The engine's own defaults for the ranking knobs, read from its signature."""


def apply_method(engine: MatchEngine, settings: dict) -> None:
    """Switch a built engine to one method's settings (defaults for anything not given)."""
    for key, default in RANKING_DEFAULTS.items():
        setattr(engine, key, settings.get(key, default))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--corpus", default=str(REPO.parent / "shared" / "data" / "csl_dev.jsonl"))
    parser.add_argument("--limit", type=int, default=None)
    parser.add_argument("--halves", action="store_true", help="also evaluate each half separately")
    parser.add_argument("--max-seq-length", type=int, default=DEFAULT_MAX_SEQ_LENGTH)
    parser.add_argument("--cache", help="npz file to keep document vectors between runs")
    parser.add_argument("--encoder", default=os.environ.get("TECHMATCH_ENCODER", str(REPO / "models" / "m3e-small")))
    args = parser.parse_args()

    with open(args.corpus, encoding="utf-8") as handle:
        rows = [json.loads(line) for line in handle if line.strip()][: args.limit]
    encoder = CachedQueries(load_encoder(args.encoder, max_seq_length=args.max_seq_length))
    variants = {
        "title+kw+abstract": [document_text(r["title"], r["keywords"], r["abstract"]) for r in rows],
        "abstract": [document_text(None, None, r["abstract"]) for r in rows],
    }
    subsets = {"all": list(range(len(rows)))}
    if args.halves:
        half = len(rows) // 2
        subsets.update({"half A": subsets["all"][:half], "half B": subsets["all"][half:]})

    results = []
    with tempfile.TemporaryDirectory() as directory:
        keeper, factory = load_through_service(rows, args.encoder, Path(directory))
        for method, settings in METHODS.items():
            apply_method(keeper.engine, settings)
            log(f"  service / {method}")
            results.append(("service", "all", method, evaluate(keeper.engine, rows, subsets["all"], offset=1)))
        apply_method(keeper.engine, {})
        log("  service / POST /match")
        results.append(("service", "all", "POST /match path", evaluate_service(keeper, factory, rows)))
    for variant, texts in variants.items():
        vectors = document_vectors(encoder, texts, args.cache)
        for subset, ids in subsets.items():
            engine = build(encoder, rows, ids, vectors, texts)
            for method, settings in METHODS.items():
                apply_method(engine, settings)
                log(f"  {variant} / {subset} / {method}")
                results.append((variant, subset, method, evaluate(engine, rows, ids)))

    print(f"corpus: {args.corpus} ({len(rows)} papers), encoder: {encoder.name}, "
          f"max_seq_length {encoder.max_seq_length}")
    print(f"{'documents':<18} {'subset':<7} {'method':<18} {'R@1':>6} {'R@10':>6} {'MRR@10':>7} {'P@10':>6}")
    for variant, subset, method, m in results:
        print(f"{variant:<18} {subset:<7} {method:<18} {m['R@1']:6.3f} {m['R@10']:6.3f} {m['MRR@10']:7.3f} {m['P@10']:6.3f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
