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

The demand task (--task demands or all; file --demands) queries the same
service-loaded achievements with each enterprise demand's title + description
through the match endpoint's function, and reports for the answerable demands
R@1, R@10 and MRR@10 of the paper written for them (overall and per difficulty),
then for the relevance signal: how many unanswerable demands the service calls
"no good match" and how many answerable ones it wrongly does. The demands are
split into two halves (alternate lines) to see whether the relevance thresholds
hold on demands they were not chosen on; --fit-relevance refits the relevance
model and thresholds (app/matching/relevance.py) and prints them. Short queries
(titles, keyword pairs, nonsense) are reported and fitted on too, so one rare word
matched is not read as a strong match. A few English titles of Chinese papers
measure cross-lingual recall. The answerable demands are also stored as demand
records and matched record to record (search_like), as a stored demand is.

    python scripts/evaluate.py [--corpus PATH] [--limit N] [--halves] [--cache FILE]
                               [--task titles|demands|all] [--demands PATH] [--fit-relevance]
                               [--backend onnx-int8|torch]

--cache keeps document vectors in an .npz file between runs (keyed by a hash
of the encoder name, which differs per backend, and the texts), so ranking changes can be compared quickly.
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
from typing import get_args

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from app.matching.encoder import DEFAULT_BACKEND, DEFAULT_MAX_SEQ_LENGTH, Backend, load_encoder  # noqa: E402
from app.matching.engine import MatchEngine  # noqa: E402
from app.matching.text import document_text  # noqa: E402

SIDE = "achievements"
_PLAIN = dict(prf_docs=0, smooth_docs=0, lexical_prf_docs=0, propagate_docs=0, exact_weight=0)
METHODS = {
    "bm25 only": dict(_PLAIN, fusion="mix", dense_weight=0.0),
    "dense only": dict(_PLAIN, fusion="mix", dense_weight=1.0),
    "hybrid rrf": dict(_PLAIN, fusion="rrf"),
    "hybrid mix": dict(_PLAIN, fusion="mix"),
    "mix+prf": dict(smooth_docs=0, lexical_prf_docs=0, propagate_docs=0, exact_weight=0),
    "+smoothing": dict(lexical_prf_docs=0, propagate_docs=0, exact_weight=0),
    "+lexical prf": dict(propagate_docs=0, exact_weight=0),
    "+propagation": dict(exact_weight=0),
    "every query short": dict(description_words=10**9),  # feedback and propagation for descriptions too
    "default (shipped)": {},  # + the exact-term blend for queries of at most three words
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


def load_through_service(rows: list[dict], encoder_path: str, backend: str, max_tokens: int, directory: Path):
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

    settings = Settings(data_dir=directory, encoder=Path(encoder_path), encoder_backend=backend, encoder_max_tokens=max_tokens,
                        encoder_threads=os.cpu_count() or 1)
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


def service_matches(keeper, factory, texts: list[str], k: int) -> list[dict]:
    """matching.service.match_text (the function behind POST /match) for each text.

    Weak matches are included so that ranks and relevance stay measurable when the service
    calls a query "no good match"; the flag itself is kept in each result.
    """
    from app.achievements.schemas import AchievementFilters
    from app.database import session_scope
    from app.matching import service

    with session_scope(factory) as session:
        return [
            service.match_text(session, keeper, text=text, target=SIDE, filters=AchievementFilters(), k=k,
                               prefer_region=None, include_weak=True)
            for text in texts
        ]


def evaluate_service(keeper, factory, rows: list[dict]) -> dict[str, float]:
    """The title-task metrics through the match endpoint's function (record id = row + 1)."""
    results = service_matches(keeper, factory, [row["title"] for row in rows], k=11)
    found_rows = [[item["id"] - 1 for item in result["items"]] for result in results]
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


ENGLISH_TITLES = {
    "csl-dev-0037": "Effect of polysaccharides on the rheology of grass carp myofibrillar protein during frozen storage",
    "csl-dev-0148": "Investigation and analysis of fire accidents in highway tunnels",
    "csl-dev-0185": "Preparation, characterization and optical properties of two broadband blue-emitting materials",
    "csl-dev-0370": "Quality of the national online direct reporting of the AIDS epidemic in 2007 and its factors",
    "csl-dev-0407": "Techniques for reshaping the crown of ginkgo trees",
    "csl-dev-0444": "Coordinated pollutant control and ultra-low emission technology for coal-fired industrial boilers",
    "csl-dev-0518": "Energy-aware resource allocation in virtualized cloud computing data centers",
    "csl-dev-0666": "Recent progress in traditional Chinese medicine treatment of migraine",
    "csl-dev-0740": "Seed propagation, seedling raising and cultivation of the goldenrain tree",
    "csl-dev-0925": "Development and application of a new ring-spun yarn for knitting",
    "csl-dev-0962": "Integrated Chinese and Western medicine treatment of acute cerebral infarction: 60 cases",
    "csl-dev-0999": "Causes of damage, strengthening and assessment of the Nigang interchange bridge",
}
"""English titles of a dozen Chinese papers, for the cross-lingual check."""


NONSENSE = ["x", "的", "测试", "hello world", "abc123", "你好", "技术", "123", "方法研究", "啊啊啊", "系统", "qwerty",
            "今天天气不错", "买菜做饭", "好的谢谢"]
"""Queries no record answers: a single letter, filler, greetings, words every record could contain."""


def short_query_set(rows: list[dict]) -> list[dict]:
    """Short queries in the demands' shape: every 17th title and keyword pair (own paper), and NONSENSE."""
    titles = [{"title": r["title"], "paper_id": r["id"], "difficulty": "title"} for r in rows[5::17]]
    keywords = [{"title": " ".join(r["keywords"][:2]), "paper_id": r["id"], "difficulty": "keywords"} for r in rows[3::17]]
    return titles + keywords + [{"title": text, "paper_id": None, "difficulty": "nonsense"} for text in NONSENSE]


def demand_outcomes(results: list[dict], demands: list[dict], record_of: dict[str, int]) -> list[dict]:
    """Per demand: its paper's rank in the top 10, the service's verdict and every listed item's signals."""
    outcomes = []
    for demand, result in zip(demands, results, strict=True):
        target = record_of.get(demand["paper_id"])
        ids = [item["id"] for item in result["items"]][:10]
        outcomes.append({
            "difficulty": demand["difficulty"],
            "answerable": target is not None,
            "rank": rank_of(ids, target) if target else None,
            "no_good_match": result["no_good_match"],
            "pairs": [(*signals(item), item["id"] == target) for item in result["items"][:10]],
        })
    return outcomes


def signals(item: dict) -> tuple[float, float, float]:
    """The absolute signals relevance is computed from, as a match response gives them."""
    explanation = item["explanation"]
    return explanation["semantic_similarity"], explanation["lexical_coverage"], explanation["lexical_score"]


def rank_metrics(outcomes: list[dict]) -> dict[str, float]:
    n = len(outcomes)
    return {
        "n": n,
        "R@1": sum(o["rank"] == 1 for o in outcomes) / n,
        "R@10": sum(o["rank"] is not None for o in outcomes) / n,
        "MRR@10": sum(1 / o["rank"] for o in outcomes if o["rank"]) / n,
    }


def verdicts(outcomes: list[dict], no_good_match=lambda o: o["no_good_match"]) -> str:
    """'no good match' on the unanswerable (wanted) and on the answerable (wrong)."""
    unanswerable = [o for o in outcomes if not o["answerable"]]
    answerable = [o for o in outcomes if o["answerable"]]
    caught = sum(map(no_good_match, unanswerable))
    wrong = sum(map(no_good_match, answerable))
    return (f"unanswerable called no good match {caught}/{len(unanswerable)} ({caught / len(unanswerable):.0%}), "
            f"answerable wrongly {wrong}/{len(answerable)} ({wrong / len(answerable):.1%})")


def fit_logistic(features: np.ndarray, labels: np.ndarray, ridge: float = 1e-3) -> np.ndarray:
    """Weights (one per feature, then the intercept) of a logistic regression, by Newton's method."""
    x = np.hstack([features, np.ones((len(features), 1))])
    w = np.zeros(x.shape[1])
    for _ in range(50):
        p = 1 / (1 + np.exp(-x @ w))
        gradient = x.T @ (p - labels) + ridge * w
        hessian = (x * (p * (1 - p))[:, None]).T @ x + ridge * np.eye(len(w))
        w -= np.linalg.solve(hessian, gradient)
    return w


def fit_relevance(outcomes: list[dict], short: list[dict], miss_rate: float = 0.05, precision: float = 0.9
                  ) -> dict[str, float]:
    """Relevance weights and band thresholds from the listed items of demand and short-query outcomes.

    The model: P(item is the query's paper | cosine, coverage, log BM25), on every listed item of
    the demands and of the short queries (titles, keyword pairs, nonsense: a broker's other
    kind of query, so that one rare word matched is not read as a strong match). POSSIBLE: the highest threshold under which
    at most `miss_rate` of the answerable demands have all their items (so they would be called
    "no good match"). STRONG: the lowest relevance at which the demands' first items at or above it
    are their paper in at least `precision` of cases (and at least 10 of them).
    """
    pairs = [pair for o in outcomes + short for pair in o["pairs"]]
    features = np.array([features_of(pair) for pair in pairs])
    weights = fit_logistic(features, np.array([pair[-1] for pair in pairs], dtype=float))
    fitted = dict(zip(("cosine", "coverage", "lexical", "intercept"), weights.tolist(), strict=True))
    best = sorted(best_relevance(fitted, o) for o in outcomes if o["answerable"])
    possible = best[int(miss_rate * len(best))]
    firsts = sorted(((rate(fitted, o["pairs"][0]), o["pairs"][0][-1]) for o in outcomes if o["pairs"]), reverse=True)
    strong, right = 1.0, 0
    for count, (value, is_paper) in enumerate(firsts, 1):
        right += is_paper
        if count >= 10 and right / count >= precision:
            strong = value
    return {**fitted, "possible": float(np.floor(possible * 1000) / 1000), "strong": float(np.ceil(strong * 1000) / 1000)}


def features_of(pair: tuple) -> list[float]:
    """The model's inputs from (cosine, coverage, bm25, …), as app/matching/relevance.py reads them."""
    return [pair[0], pair[1], float(np.log1p(pair[2]))]


def rate(fitted: dict[str, float], pair: tuple) -> float:
    """The relevance a fitted model gives one listed item."""
    weights = np.array([fitted["cosine"], fitted["coverage"], fitted["lexical"]])
    return float(1 / (1 + np.exp(-(weights @ features_of(pair) + fitted["intercept"]))))


def best_relevance(fitted: dict[str, float], outcome: dict) -> float:
    return max((rate(fitted, pair) for pair in outcome["pairs"]), default=0.0)


def report_demands(outcomes: list[dict], short: list[dict], subsets: dict[str, list[int]], fit: bool) -> list[str]:
    """Ranking per subset and difficulty, the "no good match" verdicts, and (with `fit`) a refit checked across halves."""
    lines = []
    for subset, ids in subsets.items():
        chosen = [outcomes[i] for i in ids]
        groups = {"answerable": [o for o in chosen if o["answerable"]]}
        for difficulty in ("hard", "medium"):
            groups[difficulty] = [o for o in chosen if o["difficulty"] == difficulty]
        for group, members in groups.items():
            m = rank_metrics(members)
            lines.append(f"{'POST /match path':<18} {subset:<7} {group:<18} {m['n']:4d} {m['R@1']:6.3f} {m['R@10']:6.3f} "
                         f"{m['MRR@10']:7.3f}")
    lines += [f"no good match, {subset}: {verdicts([outcomes[i] for i in ids])}" for subset, ids in subsets.items()]
    if fit:
        fitted = fit_relevance(outcomes, short)
        lines.append("fitted on all demands: " + ", ".join(f"{k} {v:.4f}" for k, v in fitted.items()))
        halves = [name for name in subsets if name != "all"]
        for fitted_on, checked_on in zip(halves, reversed(halves), strict=True):
            half = fit_relevance([outcomes[i] for i in subsets[fitted_on]], short)
            held_out = [outcomes[i] for i in subsets[checked_on]]
            lines.append(f"  fitted on {fitted_on} (possible {half['possible']:.3f}), checked on {checked_on}: " + verdicts(
                held_out, lambda o, h=half: best_relevance(h, o) < h["possible"]))
    return lines


def run_demands(keeper, factory, rows: list[dict], args) -> list[str]:
    """The demand task and the cross-lingual check on the service-loaded corpus; returns report lines."""
    record_of = {row["id"]: i + 1 for i, row in enumerate(rows)}
    with open(args.demands, encoding="utf-8") as handle:
        demands = [json.loads(line) for line in handle if line.strip()]
    demands = [d for d in demands if d["paper_id"] is None or d["paper_id"] in record_of]
    texts = [document_text(d["title"], None, d["description"]) for d in demands]
    subsets = {"all": list(range(len(demands)))}
    if args.halves:
        subsets.update({"half A": subsets["all"][0::2], "half B": subsets["all"][1::2]})
    lines = ["", f"demands: {args.demands} ({len(demands)}), each title + description as free text",
             f"{'demands':<18} {'subset':<7} {'method / group':<18} {'n':>4} {'R@1':>6} {'R@10':>6} {'MRR@10':>7}"]
    answerable = [i for i, d in enumerate(demands) if d["paper_id"] is not None]
    for method, settings in METHODS.items():
        apply_method(keeper.engine, settings)
        log(f"  demands / {method}")
        ranks = {i: rank_of([m.id for m in keeper.engine.search_text(SIDE, texts[i], k=10)], record_of[demands[i]["paper_id"]])
                 for i in answerable}
        for subset, ids in subsets.items():
            m = rank_metrics([{"rank": ranks[i]} for i in ids if i in ranks])
            lines.append(f"{'engine':<18} {subset:<7} {method:<18} {m['n']:4d} {m['R@1']:6.3f} {m['R@10']:6.3f} {m['MRR@10']:7.3f}")
    apply_method(keeper.engine, {})
    lines += stored_demands(keeper.engine, demands, texts, record_of, subsets)
    log("  demands / POST /match")
    outcomes = demand_outcomes(service_matches(keeper, factory, texts, k=10), demands, record_of)
    short_queries = short_query_set(rows)
    short = demand_outcomes(service_matches(keeper, factory, [q["title"] for q in short_queries], k=10), short_queries, record_of)
    for kind in ("title", "keywords", "nonsense"):
        of_kind = [o for o in short if o["difficulty"] == kind]
        lines.append(f"short queries, {kind} ({len(of_kind)}): own paper first {sum(o['rank'] == 1 for o in of_kind)}, "
                     f"called no good match {sum(o['no_good_match'] for o in of_kind)}")
    lines += report_demands(outcomes, short, subsets, args.fit_relevance)
    english = {paper: title for paper, title in ENGLISH_TITLES.items() if paper in record_of}
    if english:
        log("  English titles")
        chinese = [rows[record_of[paper] - 1]["title"] for paper in english]
        for language, queries in (("English", list(english.values())), ("Chinese", chinese)):
            found = service_matches(keeper, factory, queries, k=10)
            ranks = [rank_of([item["id"] for item in r["items"]], record_of[paper]) for r, paper in zip(found, english, strict=True)]
            lines.append(f"{language} titles of {len(english)} papers: R@1 {sum(r == 1 for r in ranks)}, "
                         f"R@10 {sum(r is not None for r in ranks)}, "
                         f"called no good match {sum(r['no_good_match'] for r in found)}")
    return lines


def stored_demands(engine: MatchEngine, demands: list[dict], texts: list[str], record_of: dict[str, int],
                   subsets: dict[str, list[int]]) -> list[str]:
    """The answerable demands stored as demand records and matched record to record (search_like, no encoding of
    a query: the demand's own vector and its most characteristic terms), as a stored demand's matches are."""
    log("  demands / stored demand records")
    ids = list(range(1, len(demands) + 1))
    engine.add_encoded("demands", ids, engine.encoder.encode_documents(texts), texts)
    ranks = {i: rank_of([m.id for m in engine.search_like(SIDE, "demands", i + 1, k=10)], record_of[d["paper_id"]])
             for i, d in enumerate(demands) if d["paper_id"] is not None}
    lines = []
    for subset, members in subsets.items():
        m = rank_metrics([{"rank": ranks[i]} for i in members if i in ranks])
        lines.append(f"{'stored demand':<18} {subset:<7} {'record to record':<18} {m['n']:4d} {m['R@1']:6.3f} "
                     f"{m['R@10']:6.3f} {m['MRR@10']:7.3f}")
    return lines


def rank_of(found: list[int], target: int) -> int | None:
    return found.index(target) + 1 if target in found[:10] else None


def build(encoder, rows, ids, vectors, texts) -> MatchEngine:
    engine = MatchEngine(encoder)
    engine.add_encoded(SIDE, ids, vectors[ids], [texts[i] for i in ids])
    return engine


RANKING_DEFAULTS = {
    name: parameter.default
    for name, parameter in inspect.signature(MatchEngine.__init__).parameters.items()
    if name not in ("self", "encoder", "index_kind", "index_nprobe")
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
    parser.add_argument("--backend", choices=get_args(Backend), default=os.environ.get("TECHMATCH_ENCODER_BACKEND", DEFAULT_BACKEND))
    parser.add_argument("--task", choices=("titles", "demands", "all"), default="all")
    parser.add_argument("--demands", default=str(REPO.parent / "shared" / "data" / "demands_dev.jsonl"))
    parser.add_argument("--fit-relevance", action="store_true", help="refit the relevance model and band thresholds")
    args = parser.parse_args()

    with open(args.corpus, encoding="utf-8") as handle:
        rows = [json.loads(line) for line in handle if line.strip()][: args.limit]
    encoder = CachedQueries(load_encoder(args.encoder, max_seq_length=args.max_seq_length, backend=args.backend))
    variants = {
        "title+kw+abstract": [document_text(r["title"], r["keywords"], r["abstract"]) for r in rows],
        "abstract": [document_text(None, None, r["abstract"]) for r in rows],
    }
    subsets = {"all": list(range(len(rows)))}
    if args.halves:
        half = len(rows) // 2
        subsets.update({"half A": subsets["all"][:half], "half B": subsets["all"][half:]})

    results, demand_results = [], []
    with tempfile.TemporaryDirectory() as directory:
        keeper, factory = load_through_service(rows, args.encoder, args.backend, args.max_seq_length, Path(directory))
        keeper.engine.encoder = CachedQueries(keeper.engine.encoder)  # every method repeats the same queries
        if args.task != "demands":
            for method, settings in METHODS.items():
                apply_method(keeper.engine, settings)
                log(f"  service / {method}")
                results.append(("service", "all", method, evaluate(keeper.engine, rows, subsets["all"], offset=1)))
            apply_method(keeper.engine, {})
            log("  service / POST /match")
            results.append(("service", "all", "POST /match path", evaluate_service(keeper, factory, rows)))
        if args.task != "titles":
            demand_results = run_demands(keeper, factory, rows, args)
    if args.task != "demands":
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
    if results:
        print(f"{'documents':<18} {'subset':<7} {'method':<18} {'R@1':>6} {'R@10':>6} {'MRR@10':>7} {'P@10':>6}")
        for variant, subset, method, m in results:
            print(f"{variant:<18} {subset:<7} {method:<18} {m['R@1']:6.3f} {m['R@10']:6.3f} {m['MRR@10']:7.3f} {m['P@10']:6.3f}")
    for line in demand_results:
        print(line)
    return 0


if __name__ == "__main__":
    sys.exit(main())
