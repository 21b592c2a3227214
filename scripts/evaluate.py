"""Ranking quality of the matching engine on a labelled paper corpus.

Every paper is indexed as an achievement; every title is then used as a
free-text query. Reported per ranking method:
  R@1, R@10, MRR@10  the query's own paper (title -> abstract task)
  P@10 same-discipline precision of the top 10, the query's own paper excluded

Two document variants: "title+kw+abstract" (documents contain the query title)
and "abstract" (abstract only, the fairer title -> abstract task). With
--halves, each half of the corpus is also evaluated as its own corpus, to see
whether a difference between methods is stable.

    python scripts/evaluate.py [--corpus PATH] [--limit N] [--halves] [--cache FILE]

--cache keeps document vectors in an .npz file between runs (keyed by a hash
of the encoder name and the texts), so ranking changes can be compared quickly.
"""

import argparse
import hashlib
import json
import os
import sys
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
METHODS = {
    "bm25 only": dict(fusion="mix", dense_weight=0.0, prf_docs=0, smooth_docs=0),
    "dense only": dict(fusion="mix", dense_weight=1.0, prf_docs=0, smooth_docs=0),
    "hybrid rrf": dict(fusion="rrf", prf_docs=0, smooth_docs=0),
    "hybrid mix": dict(fusion="mix", prf_docs=0, smooth_docs=0),
    "hybrid rrf+prf": dict(fusion="rrf", smooth_docs=0),
    "hybrid mix+prf": dict(fusion="mix", smooth_docs=0),
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


def evaluate(engine: MatchEngine, rows: list[dict], ids: list[int]) -> dict[str, float]:
    """Metrics of the engine's current settings, querying every title in `ids`."""
    hits1 = hits10 = rr = precision = 0.0
    for i in ids:
        found = [m.id for m in engine.search_text(SIDE, rows[i]["title"], k=11)]
        rank = found.index(i) + 1 if i in found[:10] else None
        hits1 += rank == 1
        hits10 += rank is not None
        rr += 1 / rank if rank else 0.0
        others = [j for j in found if j != i][:10]
        precision += sum(rows[j]["discipline"] == rows[i]["discipline"] for j in others) / 10
    n = len(ids)
    return {"R@1": hits1 / n, "R@10": hits10 / n, "MRR@10": rr / n, "P@10": precision / n}


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


def build(encoder, rows, ids, vectors, texts) -> MatchEngine:
    engine = MatchEngine(encoder)
    engine.add_encoded(SIDE, ids, vectors[ids], [texts[i] for i in ids])
    return engine


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
    for variant, texts in variants.items():
        vectors = document_vectors(encoder, texts, args.cache)
        for subset, ids in subsets.items():
            engine = build(encoder, rows, ids, vectors, texts)
            for method, settings in METHODS.items():
                defaults = MatchEngine(encoder)
                for key in ("fusion", "dense_weight", "prf_docs", "prf_weight", "smooth_docs", "smooth_weight", "pool"):
                    setattr(engine, key, settings.get(key, getattr(defaults, key)))
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
