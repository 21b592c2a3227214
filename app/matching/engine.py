"""MatchEngine: one encoder, and per side a dense index and a BM25 index.

The engine knows nothing about the database. The service feeds it records
from its own change log (upsert/remove), stores `applied_seq` with every
save, and on restart replays only the changes after it.

Ranking of one query:
1. candidates = dense top-N ∪ BM25 top-N (N = `pool`), both restricted to
   allowed_ids before ranking;
2. dense pseudo-relevance feedback (Rocchio): the query vector is moved
   towards the mean of its best `prf_docs` candidates and the dense search is
   repeated, which pulls in records about the same subject that share
   neither words nor phrasing with the short query (not for a description,
   see below);
3. exact dense and BM25 scores for every candidate; the dense one is
   neighbour-smoothed within the pool (see _dense_scores);
4. fusion (fusion.py, min-max score mix by default);
5. for a free-text query, lexical pseudo-relevance feedback: the BM25 query
   gains the characteristic terms of the best `lexical_prf_docs` fused
   candidates and the pool is re-scored and re-fused (a short query's few
   words rarely cover its subject's vocabulary);
6. score propagation: each candidate's fused score is averaged with its
   `propagate_docs` nearest candidates' (the cluster hypothesis: records
   close to other good records are good), giving `score` in [0, 1].
   The score is relative to the query's candidate pool (the best candidate
   scores near 1); `dense_score` (plain cosine) and `bm25_score` (of the
   query's own words) are returned too, for thresholds and explanations.
   Not for a description or a record (see below);
7. exact terms: for a query of at most `exact_query_words` words, the score
   is blended (weight `exact_weight`) with the share of the query's terms
   each candidate contains verbatim, weighted by their rarity (see
   _exact_terms): "VOCs" or "Ti-6Al-4V" finds the records that say so first.

A query of more than `description_words` words (an enterprise demand's title
and description) and a stored record (search_like) skip dense feedback and
propagation. Both pull the ranking towards the query's subject, which is what a
short query needs and what same-discipline precision rewards; a description
already names its subject and asks for the one record that answers it, and
on the development demands both steps moved that record down (MRR@10 0.73 ->
0.79 without them, on both halves). Titles have at most 15 words, demands at
least 29, so the cut sits between.

Defaults were chosen with scripts/evaluate.py, checking each change on two
disjoint halves of the corpus so that only robust gains were kept.
"""

import json
import os
import threading
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np
from threadpoolctl import threadpool_limits

from app.sides import SIDES

from .encoder import Encoder
from .fusion import FUSIONS
from .lexical import BM25Index, Tokenizer, matched_terms
from .text import document_text, normalize
from .translate import translate
from .vector_index import VectorIndex, load_vector_index, new_vector_index, saved_position

_LEXICAL = "bm25."  # the prefix of the BM25 arrays in export_side


class Record(NamedTuple):
    id: int
    title: str | None
    keywords: Sequence[str] | str | None
    body: str | None


class Match(NamedTuple):
    id: int
    score: float
    dense_score: float
    bm25_score: float
    matched_terms: list[str]
    lexical_coverage: float = 0.0  # bm25_score / the query's BM25 ceiling, in [0, 1] (absolute relevance)


class _Side:
    def __init__(self, vectors: VectorIndex, bm25: BM25Index):
        self.vectors = vectors
        self.bm25 = bm25


class MatchEngine:
    """Hybrid (dense + BM25) matching over the two record sides."""

    def __init__(self, encoder: Encoder, fusion: str = "mix", dense_weight: float = 0.7,
                 pool: int = 100, prf_docs: int = 3, prf_weight: float = 0.5,
                 smooth_docs: int = 5, smooth_weight: float = 1.0,
                 lexical_prf_docs: int = 5, lexical_prf_terms: int = 10, lexical_query_weight: int = 2,
                 propagate_docs: int = 10, propagate_weight: float = 1.0,
                 exact_weight: float = 0.5, exact_query_words: int = 3, description_words: int = 20,
                 index_kind: str = "auto", index_nprobe: int = 128):
        if fusion not in FUSIONS:
            raise ValueError(f"unknown fusion {fusion!r}; choose from {sorted(FUSIONS)}")
        self.encoder = encoder
        self.tokenizer = Tokenizer()
        self.fusion, self.dense_weight = fusion, dense_weight
        self.pool, self.prf_docs, self.prf_weight = pool, prf_docs, prf_weight
        self.smooth_docs, self.smooth_weight = smooth_docs, smooth_weight
        self.lexical_prf_docs, self.lexical_prf_terms = lexical_prf_docs, lexical_prf_terms
        self.lexical_query_weight = lexical_query_weight
        self.propagate_docs, self.propagate_weight = propagate_docs, propagate_weight
        self.exact_weight, self.exact_query_words = exact_weight, exact_query_words
        self.description_words = description_words
        self._index_kind = index_kind
        self._index_options = {"nprobe": index_nprobe}
        self._lock = threading.RLock()
        # Process-wide: a query's matrix products are small, and multi-threaded
        # BLAS on a shared 2-core machine made them ~10x slower (16 ms vs 2 ms).
        threadpool_limits(limits=1, user_api="blas")
        self._sides = {side: self._new_side() for side in SIDES}

    def _new_side(self) -> _Side:
        return _Side(new_vector_index(self._index_kind, self.encoder.name, self.encoder.dim, **self._index_options), BM25Index())

    def _side(self, side: str) -> _Side:
        if side not in self._sides:
            raise ValueError(f"unknown side {side!r}; expected one of {SIDES}")
        return self._sides[side]

    # -- updates ---------------------------------------------------------

    def add_terms(self, words: Iterable[str]) -> None:
        """Grow the tokeniser dictionary (industry fields, keywords); affects later tokenisation."""
        self.tokenizer.add_terms(normalize(w) for w in words)

    def upsert(self, side: str, id: int, title: str | None, keywords: Sequence[str] | str | None, body: str | None) -> None:
        """Index one record, replacing any previous version of the same id."""
        self.upsert_many(side, [Record(id, title, keywords, body)])

    def upsert_many(self, side: str, records: Iterable[Record | tuple[int, str | None, Sequence[str] | str | None, str | None]],
                    show_progress: bool = False, batch_size: int = 512) -> None:
        """Index many (id, title, keywords, body) records, encoding them in batches."""
        rows = [Record(*r) for r in records]
        for start in range(0, len(rows), batch_size):
            batch = rows[start:start + batch_size]
            texts = [document_text(r.title, r.keywords, r.body) for r in batch]
            vectors = self.encoder.encode_documents(texts, show_progress=show_progress)
            self.add_encoded(side, [r.id for r in batch], vectors, texts)

    def add_encoded(self, side: str, ids: Sequence[int], vectors: np.ndarray, texts: Sequence[str]) -> None:
        """Index records whose vectors are already computed (bulk loads, benchmarks)."""
        self.add_tokenized(side, ids, vectors, [self.tokenizer.tokenize(text) for text in texts])

    def add_tokenized(self, side: str, ids: Sequence[int], vectors: np.ndarray, tokens: Sequence[Sequence[str]]) -> None:
        """Index records whose vectors and BM25 tokens are already computed (stored vectors)."""
        if not len(ids):
            return
        with self._lock:
            target = self._side(side)
            target.vectors.add(np.asarray(ids, dtype=np.int64), vectors)
            for id_, toks in zip(ids, tokens, strict=True):
                target.bm25.add(int(id_), toks)

    def load_side(self, side: str, ids: np.ndarray, vectors: np.ndarray, tokens: Sequence[str]) -> None:
        """Replace a side with these records at once (a fresh start from stored vectors and tokens).

        Both indexes take their bulk path (flat vectors, BM25 from token strings); the IVF cells
        (or HNSW graph) of a large side are left to `optimize`.
        """
        self._replace_side(side, ids, vectors, BM25Index.from_tokens(ids, tokens))

    def export_side(self, side: str, vector_dtype: np.dtype[Any]) -> dict[str, np.ndarray]:
        """A side's records as flat arrays (an index snapshot): `ids` and `vectors` (as
        `vector_dtype`) of the dense index, its IVF `centroids` if it has any, and the BM25
        index's arrays prefixed `bm25.`. `import_side` reads them back."""
        with self._lock:
            target = self._side(side)
            ids, vectors = target.vectors.live(vector_dtype)
            centroids = target.vectors.centroids()
            lexical = target.bm25.to_arrays()
        dense = {"ids": ids, "vectors": vectors} | ({} if centroids is None else {"centroids": centroids})
        return dense | {f"{_LEXICAL}{name}": array for name, array in lexical.items()}

    def import_side(self, side: str, arrays: dict[str, np.ndarray]) -> None:
        """Replace a side with the records of `export_side` arrays (vectors as `VectorIndex.build` takes them)."""
        lexical = {name.removeprefix(_LEXICAL): array for name, array in arrays.items() if name.startswith(_LEXICAL)}
        self._replace_side(side, arrays["ids"], arrays["vectors"], BM25Index.from_arrays(lexical), arrays.get("centroids"))

    def _replace_side(self, side: str, ids: np.ndarray, vectors: np.ndarray, bm25: BM25Index,
                      centroids: np.ndarray | None = None) -> None:
        fresh = self._new_side()
        fresh.vectors.build(ids, vectors, centroids)
        fresh.bm25 = bm25
        with self._lock:
            self._side(side)
            self._sides[side] = fresh  # type: ignore[index]  # _side() checked the name

    def optimize(self) -> bool:
        """Build the slow structures `load_side` deferred (IVF cells), searches going on meanwhile."""
        return any([side.vectors.optimize(self._lock) for side in list(self._sides.values())])

    @property
    def needs_cells(self) -> bool:
        """Whether `optimize` has something to build: a side's IVF cells are missing or outgrown."""
        with self._lock:
            return any(side.vectors.needs_cells for side in self._sides.values())

    def vector(self, side: str, id: int) -> np.ndarray | None:
        """The indexed vector of a record, or None."""
        with self._lock:
            return self._side(side).vectors.vector(id)

    def remove(self, side: str, id: int) -> None:
        with self._lock:
            target = self._side(side)
            target.vectors.remove([id])
            target.bm25.remove(id)

    def count(self, side: str) -> int:
        return self._side(side).vectors.count

    # -- queries ---------------------------------------------------------

    def query_text(self, side: str, text: str) -> str:
        """A free-text query as it is read: normalised, and its English words in Chinese (translate.py), each
        English word or phrase by the headword that most records of `side` hold."""
        return translate(normalize(text), self._side(side).bm25.document_frequency)

    def search_text(self, side: str, text: str, k: int = 10, allowed_ids: Iterable[int] | None = None) -> list[Match]:
        """Best records of `side` for a free-text query."""
        text = self.query_text(side, text)
        if not text:
            return []
        vector = self.encoder.encode_queries([text])[0]
        tokens = self.tokenizer.tokenize(text)
        short = len(_words(tokens)) <= self.description_words
        return self._rank(side, vector, tokens, k, allowed_ids, feedback=short, propagate=short)

    def search_like(self, side: str, source_side: str, source_id: int, k: int = 10,
                    allowed_ids: Iterable[int] | None = None, query_terms: int = 20) -> list[Match]:
        """Best records of `side` for a record already stored in `source_side` (no encoding).

        The lexical query is the source's `query_terms` most characteristic terms
        (tf-idf), which keeps long records fast and focused. No pseudo-relevance
        feedback and no propagation: a whole record is already a rich query, unlike a short text.
        """
        with self._lock:
            source = self._side(source_side)
            vector = source.vectors.vector(source_id)
            if vector is None:
                raise KeyError(f"{source_side} record {source_id} is not indexed")
            tokens = source.bm25.top_terms(source_id, query_terms)
        exclude = {source_id} if side == source_side else set()
        matches = self._rank(side, vector, tokens, k + len(exclude), allowed_ids, feedback=False, propagate=False)
        return [m for m in matches if m.id not in exclude][:k]

    def rate_texts(self, side: str, texts: Sequence[str], ids: Sequence[int]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(cosine, BM25, coverage) of every free-text query (rows) and record of `side` (columns).

        The three signals `relevance` reads, exactly as search_text's Match carries them, for
        many queries at once and at a cost that follows len(texts) × len(ids), not the list's
        size: one matrix product, the BM25 of those records alone, the query vectors remembered
        by the encoder. Records not indexed rate 0.
        """
        normalized = [self.query_text(side, text) for text in texts]
        queries = self.encoder.encode_queries(normalized) if texts else np.zeros((0, self.encoder.dim), np.float32)
        tokens = [self.tokenizer.tokenize(text) for text in normalized]
        with self._lock:
            target = self._side(side)
            cosine = queries @ target.vectors.vectors(np.asarray(ids, dtype=np.int64)).T
            bm25 = target.bm25.score_matrix(tokens, ids)
            ceilings = np.array([max(target.bm25.ceiling(t), 1e-9) for t in tokens], dtype=np.float32).reshape(-1, 1)
        return cosine, bm25, bm25 / ceilings

    def nearest(self, side: str, text: str, k: int = 3) -> list[tuple[int, float]]:
        """(id, cosine) of the records of `side` closest to `text` read as a record (near-duplicates)."""
        vector = self.encoder.encode_documents([document_text(None, None, text)])[0]
        with self._lock:
            scores, ids = self._side(side).vectors.search(vector, k)
        return [(int(i), float(s)) for s, i in zip(scores[0], ids[0], strict=True) if i >= 0]

    def _rank(self, side: str, query: np.ndarray, tokens: list[str], k: int, allowed_ids: Iterable[int] | None,
              feedback: bool, propagate: bool) -> list[Match]:
        """Pool candidates, re-score them exactly, fuse; Match.dense_score is the plain cosine to `query`.

        `feedback`: pseudo-relevance feedback, dense and lexical; `propagate`: score propagation.
        """
        allowed = None if allowed_ids is None else np.fromiter(allowed_ids, dtype=np.int64)
        with self._lock:
            target = self._side(side)
            n = max(self.pool, k)
            lexical = target.bm25.score_all(tokens)
            _, lexical_ids = target.bm25.top(lexical, n, allowed)
            vector = query
            _, dense_ids = target.vectors.search(vector, n, allowed)
            if feedback and self.prf_docs:
                vector = self._feedback(target, query, dense_ids[0])
                _, dense_ids = target.vectors.search(vector, n, allowed)
            pool = np.unique(np.concatenate([dense_ids[0][dense_ids[0] >= 0], lexical_ids]))
            if not len(pool):
                return []
            candidates = target.vectors.vectors(pool)
            neighbours = self._neighbours(candidates)
            dense = self._dense_scores(candidates, vector, neighbours)
            bm25_scores = target.bm25.scores_of(lexical, pool)
            fused = self._fuse(dense, bm25_scores)
            if feedback and self.lexical_prf_docs:
                feedback_ids = pool[np.argsort(-fused, kind="stable")[: self.lexical_prf_docs]]
                expanded = target.bm25.score_all(self._expanded_query(target, tokens, feedback_ids))
                fused = self._fuse(dense, target.bm25.scores_of(expanded, pool))
            if propagate:
                fused = self._propagate(fused, neighbours)
            fused = self._exact_terms(target, tokens, pool, fused)
            cosine = candidates @ query
            coverage = bm25_scores / max(target.bm25.ceiling(tokens), 1e-9)
            best = np.argsort(-fused, kind="stable")[:k]
            return [Match(int(pool[i]), float(fused[i]), float(cosine[i]), float(bm25_scores[i]),
                          matched_terms(tokens, target.bm25.terms_of(int(pool[i]))), float(coverage[i])) for i in best]

    def _feedback(self, target: _Side, vector: np.ndarray, ids: np.ndarray) -> np.ndarray:
        """Rocchio step in dense space: query + weight * mean of the top feedback vectors."""
        top = ids[:self.prf_docs][ids[:self.prf_docs] >= 0]
        if not len(top):
            return vector
        centroid = target.vectors.vectors(top).mean(axis=0)
        moved: np.ndarray = vector + self.prf_weight * centroid
        unit: np.ndarray = moved / np.linalg.norm(moved)
        return unit.astype(np.float32)

    def _neighbours(self, candidates: np.ndarray) -> np.ndarray:
        """Each candidate's nearest other candidates, closest first (for smoothing and propagation)."""
        width = min(max(self.smooth_docs, self.propagate_docs), len(candidates) - 1)
        if width <= 0:
            return np.zeros((len(candidates), 0), dtype=np.int64)
        similarity = candidates @ candidates.T
        np.fill_diagonal(similarity, -np.inf)
        nearest = np.argpartition(-similarity, width - 1, axis=1)[:, :width]  # on the hot path: no full sort
        order = np.argsort(-np.take_along_axis(similarity, nearest, axis=1), axis=1, kind="stable")
        return np.take_along_axis(nearest, order, axis=1)

    def _dense_scores(self, candidates: np.ndarray, vector: np.ndarray, neighbours: np.ndarray) -> np.ndarray:
        """Cosine of the query to each candidate, smoothed with the candidate's neighbours.

        Each candidate vector is replaced by itself + weight * mean of its
        `smooth_docs` nearest other candidates (re-normalised): a record sitting
        among records relevant to the query gains, an isolated one loses.
        """
        if self.smooth_docs <= 0 or neighbours.shape[1] < self.smooth_docs:
            plain: np.ndarray = candidates @ vector
            return plain
        smoothed = candidates + self.smooth_weight * candidates[neighbours[:, : self.smooth_docs]].mean(axis=1)
        smoothed /= np.maximum(np.linalg.norm(smoothed, axis=1, keepdims=True), 1e-12)
        scores: np.ndarray = smoothed @ vector
        return scores

    def _expanded_query(self, target: _Side, tokens: list[str], feedback_ids: np.ndarray) -> list[str]:
        """The query's own tokens (counted `lexical_query_weight` times) plus its best records' top terms."""
        extra = [term for i in feedback_ids for term in target.bm25.top_terms(int(i), self.lexical_prf_terms)]
        return list(tokens) * self.lexical_query_weight + extra

    def _propagate(self, fused: np.ndarray, neighbours: np.ndarray) -> np.ndarray:
        """Average each fused score with its `propagate_docs` nearest candidates' (kept in [0, 1])."""
        if self.propagate_docs <= 0 or neighbours.shape[1] < self.propagate_docs:
            return fused
        spread = fused[neighbours[:, : self.propagate_docs]].mean(axis=1)
        averaged: np.ndarray = (fused + self.propagate_weight * spread) / (1 + self.propagate_weight)
        return averaged.astype(np.float32)

    def _exact_terms(self, target: _Side, tokens: list[str], pool: np.ndarray, fused: np.ndarray) -> np.ndarray:
        """Blend a short query's score with each candidate's verbatim share of its rare terms.

        An acronym, a formula or a model number gives the encoder little to read, and propagation
        averages the record that carries the term with neighbours that do not; yet a rare term
        found verbatim is the strongest evidence such a query offers. Rarity (idf, see
        BM25Index.rare_term_share) keeps a common word from overriding the semantic order. A
        query of more words carries its own context and keeps the fused score. Words are the
        tokens not contained in a longer one (see _words).
        """
        words = _words(tokens)
        if not self.exact_weight or not words or len(words) > self.exact_query_words:
            return fused
        share = target.bm25.rare_term_share(tokens, pool)
        if not share.any():  # no candidate holds a query term: nothing to prefer
            return fused
        blended: np.ndarray = (1 - self.exact_weight) * fused + self.exact_weight * share
        return blended.astype(np.float32)

    def _fuse(self, dense: np.ndarray, bm25: np.ndarray) -> np.ndarray:
        if self.fusion == "mix":
            return FUSIONS["mix"](dense, bm25, self.dense_weight)
        return FUSIONS[self.fusion](dense, bm25)

    # -- persistence -----------------------------------------------------

    @property
    def applied_seq(self) -> int:
        """Sequence number of the last change-log entry included in the last save/load."""
        return min(min(s.vectors.applied_seq, s.bm25.applied_seq) for s in self._sides.values())

    def save(self, directory: str | os.PathLike[str], applied_seq: int | None = None) -> None:
        """Write both sides under `directory` (each file replaced atomically)."""
        with self._lock:
            for name, side in self._sides.items():
                if applied_seq is not None:
                    side.vectors.applied_seq = side.bm25.applied_seq = applied_seq
                side.vectors.save(Path(directory) / name / "dense")
                side.bm25.save(Path(directory) / name / "lexical")
            tmp = Path(directory) / "terms.json.tmp"
            tmp.write_text(json.dumps(sorted(self.tokenizer.terms), ensure_ascii=False), encoding="utf-8")
            tmp.replace(Path(directory) / "terms.json")

    @staticmethod
    def saved_position(directory: str | os.PathLike[str], encoder_name: str) -> int | None:
        """The change-log position of the engine of `encoder_name` saved under `directory`, without
        loading it (None if there is none)."""
        positions = {saved_position(Path(directory) / name / "dense", encoder_name) for name in SIDES}
        return positions.pop() if len(positions) == 1 else None  # sides of two saves: a mix, not an index

    @classmethod
    def load(cls, directory: str | os.PathLike[str], encoder: Encoder, **options: Any) -> "MatchEngine":
        """Restore a saved engine; raises IndexMismatchError if it was built by another encoder."""
        engine = cls(encoder, **options)
        directory = Path(directory)
        terms_file = directory / "terms.json"
        if terms_file.is_file():
            engine.tokenizer.add_terms(json.loads(terms_file.read_text(encoding="utf-8")))
        for name in SIDES:
            vectors = load_vector_index(directory / name / "dense", engine._index_kind, encoder.name, encoder.dim,
                                        **engine._index_options)
            engine._sides[name] = _Side(vectors, BM25Index.load(directory / name / "lexical"))
        return engine


def _words(tokens: Sequence[str]) -> list[str]:
    """A query's distinct words: its tokens not contained in a longer one (jieba's search mode adds 合金 to 钛合金)."""
    distinct = set(tokens)
    return [t for t in distinct if not any(t != other and t in other for other in distinct)]
