"""Fusion of dense and BM25 scores into one score in [0, 1].

Both methods work on a candidate pool (the union of the dense and the BM25
top lists) for which *both* scores are known exactly, so a record found by
one retriever is still judged by the other instead of getting a zero.
"""

from collections.abc import Callable

import numpy as np


def _minmax(scores: np.ndarray) -> np.ndarray:
    low, high = float(scores.min()), float(scores.max())
    if high - low < 1e-9:
        return np.ones_like(scores) if high > 0 else np.zeros_like(scores)
    return (scores - low) / (high - low)


def score_mix(dense: np.ndarray, bm25: np.ndarray, dense_weight: float = 0.7) -> np.ndarray:
    """Weighted sum of per-query min-max normalised scores."""
    if not len(dense):
        return np.zeros(0, dtype=np.float32)
    mixed = dense_weight * _minmax(dense) + (1 - dense_weight) * _minmax(bm25)
    return mixed.astype(np.float32)


def reciprocal_rank(dense: np.ndarray, bm25: np.ndarray, k: int = 60) -> np.ndarray:
    """Reciprocal-rank fusion, divided by its maximum (rank 1 in both lists)."""
    def ranks(scores: np.ndarray) -> np.ndarray:
        order = np.argsort(-scores, kind="stable")
        out = np.empty(len(scores), dtype=np.float64)
        out[order] = np.arange(1, len(scores) + 1)
        return out

    if not len(dense):
        return np.zeros(0, dtype=np.float32)
    fused: np.ndarray = 1 / (k + ranks(dense)) + 1 / (k + ranks(bm25))
    return (fused / (2 / (k + 1))).astype(np.float32)


FUSIONS: dict[str, Callable[..., np.ndarray]] = {"mix": score_mix, "rrf": reciprocal_rank}
