"""Absolute relevance (相关度) of one match, and its band: what a broker reads and compares.

`score` orders the candidates of one query: it is normalised over them, so the best candidate of
any query, even a nonsense one, scores near 1, and a filter that changes the pool changes it.
Relevance is computed from the query-record pair alone, so it means the same for every query,
side and filter:
- `cosine`: the cosine of the two texts' embeddings;
- `coverage`: the record's BM25 score for the query's own terms divided by the most any record
  could score for them (every term's frequency saturated; BM25Index.ceiling), in [0, 1]: how
  much of the query the record says in its words;
- `lexical`: that BM25 score itself, on a log scale: how much evidence in absolute terms. Both
  are needed: one rare word of a one-word query (`x`) covers it fully with little evidence,
  while a long demand's answer covers a small share of its words with much evidence.
BM25 depends on the corpus's term statistics, never on the other candidates.

A logistic model maps the three to the probability, measured on the development sets, that the
record is the one that answers the query. Its weights and the band thresholds are fitted and
checked by `python scripts/evaluate.py --task demands --halves --fit-relevance` (README, Matching).
"""

from typing import Literal

import numpy as np

Band = Literal["strong", "possible", "weak"]

# Logistic weights, fitted by scripts/evaluate.py --fit-relevance.
COSINE_WEIGHT = 31.09
COVERAGE_WEIGHT = 4.93
LEXICAL_WEIGHT = 2.13
INTERCEPT = -32.98
# Band thresholds on relevance, chosen on the same task (see README).
STRONG = 0.468
POSSIBLE = 0.051


def relevance(cosine: float, coverage: float, bm25: float) -> float:
    """Probability in [0, 1] that the record answers the query, from absolute signals only."""
    return float(relevances(np.array(cosine), np.array(coverage), np.array(bm25)))


def relevances(cosine: np.ndarray, coverage: np.ndarray, bm25: np.ndarray) -> np.ndarray:
    """`relevance` of many pairs at once (arrays of one shape; float64 for the same digits)."""
    logit = COSINE_WEIGHT * cosine + COVERAGE_WEIGHT * coverage + LEXICAL_WEIGHT * np.log1p(bm25) + INTERCEPT
    result: np.ndarray = 1 / (1 + np.exp(-logit))
    return result


def band(value: float) -> Band:
    """strong: act on it; possible: worth reading; weak: not a match to forward."""
    if value >= STRONG:
        return "strong"
    if value >= POSSIBLE:
        return "possible"
    return "weak"
