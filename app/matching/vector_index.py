"""Dense vector index keyed by database id.

Design (checked against faiss-cpu 1.15):

* Vectors live in a faiss index under dense internal *labels* (0, 1, 2, ...);
  this module maps labels to int64 database ids itself. A single code path
  then serves both index kinds, because HNSW does not implement remove_ids.
* Removing or replacing a record leaves a tombstone: the old label is masked
  in every search, and the record is re-added under a fresh label. Tombstones
  are purged by `compact()`, which save() calls once they exceed 20 %.
* Kind "flat" (exact inner product) is used while the index holds fewer than
  `hnsw_threshold` vectors; above it a flat scan of 512-d vectors costs more
  than the latency budget (about 17 ms at 100k on 2 cores), so "auto"
  switches once to HNSW (about 1 ms, approximate). The kind can be forced.
* Filters are applied before the top-k, never after. Flat indexes take a
  faiss IDSelector (exact). HNSW scores small allowed sets exactly from the
  stored vectors and passes large ones to the graph search as an IDSelector,
  so the k results are the best allowed ones the graph finds.

Vectors must be L2-normalised, so inner product equals cosine similarity.
"""

import json
import os
from collections.abc import Callable, Iterable
from contextlib import AbstractContextManager
from pathlib import Path
from typing import Any, Protocol

import faiss
import numpy as np

INDEX_FILE = "vectors.faiss"
LABELS_FILE = "labels.npy"
META_FILE = "meta.json"
LIVE_SLICE = 65_536  # vectors copied at a time by `live` and `build`


class IndexMismatchError(RuntimeError):
    """A saved index was built by a different encoder than the one loaded."""


class VectorIndex(Protocol):
    """What MatchEngine needs of a dense index; a backend is one module implementing it, named in KINDS."""

    encoder_name: str
    dim: int
    applied_seq: int

    def add(self, ids: np.ndarray, vectors: np.ndarray) -> None: ...
    def build(self, ids: np.ndarray, vectors: np.ndarray) -> None:
        """Replace the contents at once (a fresh start from stored vectors): must be quick; a slow
        structure is left to `optimize`. float32 rows are taken as unit rows; rows of a lower
        precision (as stored) are converted and normalised a slice at a time."""
    def optimize(self, lock: AbstractContextManager[Any]) -> bool:
        """Build what `build` deferred, outside `lock`, taking `lock` only to swap it in; False if nothing to do."""
    def remove(self, ids: Iterable[int]) -> None: ...
    def live(self, dtype: np.dtype[Any]) -> tuple[np.ndarray, np.ndarray]:
        """The ids and vectors (as `dtype`) of the indexed records, for `build` to take back."""
    def vector(self, id_: int) -> np.ndarray | None: ...
    def search(self, query_vectors: np.ndarray, k: int,
               allowed_ids: Iterable[int] | None = None) -> tuple[np.ndarray, np.ndarray]: ...
    def vectors(self, ids: np.ndarray) -> np.ndarray: ...
    @property
    def count(self) -> int: ...
    def save(self, directory: str | os.PathLike[str]) -> None: ...


def unit_rows(vectors: np.ndarray) -> np.ndarray:
    """float32 rows of length one (a float16 round trip leaves them a little off)."""
    rows = np.asarray(vectors, dtype=np.float32)
    rows /= np.maximum(np.linalg.norm(rows, axis=1, keepdims=True), 1e-12)
    return rows


def _atomic_write(path: Path, write: Callable[[str], object]) -> None:
    """Write through a temporary sibling then rename, so readers never see half a file."""
    tmp = path.with_name(path.name + ".tmp")
    write(str(tmp))
    os.replace(tmp, path)


class FaissVectorIndex:
    """Inner-product index over normalised vectors with id mapping and tombstones."""

    def __init__(self, encoder_name: str, dim: int, kind: str = "auto",
                 hnsw_threshold: int = 20_000, ef_search: int = 96, exact_filter_limit: int = 4_000):
        if kind not in ("auto", "flat", "hnsw"):
            raise ValueError(f"unknown index kind {kind!r}")
        self.encoder_name = encoder_name
        self.dim = dim
        self.applied_seq = 0
        self._mode = kind
        self._hnsw_threshold = hnsw_threshold
        self._ef_search = ef_search
        self._exact_filter_limit = exact_filter_limit
        self._index = self._new_index("hnsw" if kind == "hnsw" else "flat")
        self._label_ids = np.zeros(0, dtype=np.int64)  # label -> db id, -1 once removed
        self._id_label: dict[int, int] = {}

    @property
    def kind(self) -> str:
        return "hnsw" if isinstance(self._index, faiss.IndexHNSW) else "flat"

    @property
    def count(self) -> int:
        return len(self._id_label)

    @property
    def tombstones(self) -> int:
        return int(self._index.ntotal) - self.count

    def _new_index(self, kind: str) -> faiss.Index:
        if kind == "flat":
            return faiss.IndexFlatIP(self.dim)
        index = faiss.IndexHNSWFlat(self.dim, 32, faiss.METRIC_INNER_PRODUCT)
        index.hnsw.efConstruction = 40
        index.hnsw.efSearch = self._ef_search
        return index

    def add(self, ids: Iterable[int] | np.ndarray, vectors: np.ndarray) -> None:
        """Insert or replace vectors for the given database ids."""
        ids = np.asarray(ids, dtype=np.int64).ravel()
        vectors = np.ascontiguousarray(vectors, dtype=np.float32).reshape(len(ids), self.dim)
        if len(set(ids.tolist())) != len(ids):
            raise ValueError("duplicate ids in one add() call")
        self.remove(ids)
        before = self.count
        start = int(self._index.ntotal)
        self._index.add(vectors)
        self._label_ids = np.concatenate([self._label_ids, ids])
        self._id_label.update(zip(ids.tolist(), range(start, start + len(ids)), strict=True))
        if self.needs_graph and before < self._hnsw_threshold:  # crossing the threshold now; a bulk-built index waits for optimize()
            self.compact(kind="hnsw")

    @property
    def needs_graph(self) -> bool:
        """An "auto" index that holds enough vectors for HNSW but was built flat (`build`, or loaded so)."""
        return self._mode == "auto" and self.kind == "flat" and self.count >= self._hnsw_threshold

    def build(self, ids: Iterable[int] | np.ndarray, vectors: np.ndarray) -> None:
        """Replace the contents with these vectors, as a flat index whatever their number.

        A flat index of 100,000 vectors is built in a fraction of a second, an HNSW graph of
        them in minutes (about 4 on 2 busy cores): a fresh start searches exactly (tens of ms a
        query) until `optimize` has built the graph in the background.
        """
        ids = np.asarray(ids, dtype=np.int64).ravel()
        vectors = np.asarray(vectors).reshape(len(ids), self.dim)
        self._index = self._new_index("hnsw" if self._mode == "hnsw" else "flat")
        self._label_ids = np.zeros(0, dtype=np.int64)
        self._id_label = {}
        if len(ids):
            for start in range(0, len(ids), LIVE_SLICE):
                rows = vectors[start:start + LIVE_SLICE]
                self._index.add(np.ascontiguousarray(rows) if rows.dtype == np.float32 else unit_rows(rows))
            self._label_ids = ids.copy()
            self._id_label = dict(zip(ids.tolist(), range(len(ids)), strict=True))

    def optimize(self, lock: AbstractContextManager[Any]) -> bool:
        """Build the HNSW graph of an index that `needs_graph`, without holding `lock` meanwhile.

        The graph gets every label of the flat index (tombstones too, still masked), so the
        label map stays valid; vectors added while it was built are added to it under the lock,
        just before the swap. If the index was replaced meanwhile (compact, build), nothing is
        swapped and a later call starts again.
        """
        with lock:
            if not self.needs_graph:
                return False
            flat, built = self._index, int(self._index.ntotal)
            vectors = flat.reconstruct_n(0, built)
        graph = self._new_index("hnsw")
        graph.add(vectors)
        with lock:
            if self._index is not flat:
                return False
            if flat.ntotal > built:
                graph.add(flat.reconstruct_n(built, int(flat.ntotal) - built))
            self._index = graph
        return True

    def remove(self, ids: Iterable[int]) -> None:
        for id_ in np.fromiter(ids, dtype=np.int64).tolist():
            label = self._id_label.pop(id_, None)
            if label is not None:
                self._label_ids[label] = -1

    def live(self, dtype: np.dtype[Any]) -> tuple[np.ndarray, np.ndarray]:
        """The ids and vectors (as `dtype`) of the indexed records, tombstones left out, in label
        order; read a slice at a time, so a float16 copy of 10⁶ vectors never makes a float32 one."""
        labels = np.flatnonzero(self._label_ids >= 0)
        vectors = np.empty((len(labels), self.dim), dtype=dtype)
        for start in range(0, len(labels), LIVE_SLICE):
            vectors[start:start + LIVE_SLICE] = self._index.reconstruct_batch(labels[start:start + LIVE_SLICE])
        return self._label_ids[labels], vectors

    def vector(self, id_: int) -> np.ndarray | None:
        """The stored vector of a record, or None if it is not indexed."""
        label = self._id_label.get(int(id_))
        if label is None:
            return None
        vector: np.ndarray = self._index.reconstruct(label)  # type: ignore[assignment]  # faiss's stub says Tensor; it returns ndarray
        return vector

    def _labels_of(self, ids: Iterable[int]) -> np.ndarray:
        get = self._id_label.get
        labels = [get(int(i)) for i in ids]
        return np.array([x for x in labels if x is not None], dtype=np.int64)

    def vectors(self, ids: Iterable[int]) -> np.ndarray:
        """Stored vectors of given ids as rows (zero rows for ids not indexed)."""
        labels = np.array([self._id_label.get(int(i), -1) for i in ids], dtype=np.int64)
        out = np.zeros((len(labels), self.dim), dtype=np.float32)
        if (labels >= 0).any():
            out[labels >= 0] = self._index.reconstruct_batch(labels[labels >= 0])
        return out

    def search(self, query_vectors: np.ndarray, k: int, allowed_ids: Iterable[int] | None = None) -> tuple[np.ndarray, np.ndarray]:
        """Top-k (scores, ids) per query row; missing slots are (−inf, −1)."""
        queries = np.ascontiguousarray(query_vectors, dtype=np.float32).reshape(-1, self.dim)
        if allowed_ids is not None:
            labels = self._labels_of(allowed_ids)
            if self.kind == "hnsw" and len(labels) <= self._exact_filter_limit:
                return self._exact_search(queries, k, labels)
            selector: faiss.IDSelector | None = faiss.IDSelectorBatch(labels)
        elif self.tombstones:
            selector = faiss.IDSelectorNot(faiss.IDSelectorBatch(np.flatnonzero(self._label_ids < 0)))
        else:
            selector = None
        return self._faiss_search(queries, k, selector)

    def _faiss_search(self, queries: np.ndarray, k: int, selector: faiss.IDSelector | None) -> tuple[np.ndarray, np.ndarray]:
        if self.kind == "hnsw":
            # faiss's stub lacks SearchParametersHNSW and the SWIG keyword constructors; both exist at run time.
            params = faiss.SearchParametersHNSW(efSearch=max(self._ef_search, k), sel=selector)  # type: ignore[attr-defined]
        else:
            params = faiss.SearchParameters(sel=selector)  # type: ignore[call-arg]
        scores, labels = self._index.search(queries, k, params=params)
        return self._to_ids(scores, labels)

    def _exact_search(self, queries: np.ndarray, k: int, labels: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        scores = np.full((len(queries), k), -np.inf, dtype=np.float32)
        out = np.full((len(queries), k), -1, dtype=np.int64)
        if len(labels):
            all_scores = queries @ self._index.reconstruct_batch(labels).T
            top = min(k, len(labels))
            order = np.argsort(-all_scores, axis=1, kind="stable")[:, :top]
            scores[:, :top] = np.take_along_axis(all_scores, order, axis=1)
            out[:, :top] = labels[order]
        return self._to_ids(scores, out)

    def _to_ids(self, scores: np.ndarray, labels: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        if not len(self._label_ids):  # nothing was ever added: every slot is empty
            return np.full(scores.shape, -np.inf, dtype=np.float32), np.full(labels.shape, -1, dtype=np.int64)
        ids = np.where(labels >= 0, self._label_ids[np.maximum(labels, 0)], -1)
        return np.where(ids >= 0, scores, -np.inf).astype(np.float32), ids

    def compact(self, kind: str | None = None) -> None:
        """Rebuild the faiss index from live vectors only (drops tombstones, may change kind)."""
        live = np.flatnonzero(self._label_ids >= 0)
        vectors = self._index.reconstruct_batch(live) if len(live) else np.zeros((0, self.dim), np.float32)
        ids = self._label_ids[live]
        self._index = self._new_index(kind or self.kind)
        self._index.add(vectors)
        self._label_ids = ids.copy()
        self._id_label = dict(zip(ids.tolist(), range(len(ids)), strict=True))

    def save(self, directory: str | os.PathLike[str]) -> None:
        """Persist index, label map and meta; each file is replaced atomically, meta last."""
        directory = Path(directory)
        directory.mkdir(parents=True, exist_ok=True)
        if self.tombstones > 0.2 * max(1, self._index.ntotal):
            self.compact()
        _atomic_write(directory / INDEX_FILE, lambda p: faiss.write_index(self._index, p))
        _atomic_write(directory / LABELS_FILE, lambda p: np.save(open(p, "wb"), self._label_ids))
        meta = {"encoder": self.encoder_name, "dim": self.dim, "kind": self.kind, "mode": self._mode,
                "count": self.count, "applied_seq": self.applied_seq}
        _atomic_write(directory / META_FILE, lambda p: Path(p).write_text(json.dumps(meta, indent=2), encoding="utf-8"))

    @classmethod
    def load(cls, directory: str | os.PathLike[str], encoder_name: str, dim: int, **options: Any) -> "FaissVectorIndex":
        """Load a saved index, refusing one built by another encoder or dimension."""
        directory = Path(directory)
        meta = json.loads((directory / META_FILE).read_text(encoding="utf-8"))
        if meta["encoder"] != encoder_name or meta["dim"] != dim:
            raise IndexMismatchError(
                f"index in {directory} was built with encoder {meta['encoder']!r} (dim {meta['dim']}), "
                f"but the loaded encoder is {encoder_name!r} (dim {dim}); run `techmatch reindex`"
            )
        index = cls(encoder_name, dim, kind=options.pop("kind", meta.get("mode", "auto")), **options)
        index._index = faiss.read_index(str(directory / INDEX_FILE))
        if isinstance(index._index, faiss.IndexHNSW):
            index._index.hnsw.efSearch = index._ef_search
        index._label_ids = np.load(directory / LABELS_FILE)
        live = np.flatnonzero(index._label_ids >= 0)
        index._id_label = dict(zip(index._label_ids[live].tolist(), live.tolist(), strict=True))
        index.applied_seq = int(meta.get("applied_seq", 0))
        if index._mode != "auto" and index._mode != index.kind:
            index.compact(kind=index._mode)  # the caller forced another kind than the saved one
        return index


# Every `TECHMATCH_INDEX_KIND` and the backend that serves it. A new backend is a module with a
# class implementing VectorIndex (constructor `(encoder_name, dim, kind=...)` and a `load`
# classmethod), added here.
KINDS: dict[str, type[FaissVectorIndex]] = {"auto": FaissVectorIndex, "flat": FaissVectorIndex, "hnsw": FaissVectorIndex}


def saved_position(directory: str | os.PathLike[str], encoder_name: str) -> int | None:
    """The change-log position of the index of `encoder_name` saved in `directory`, read without
    loading it (None if there is none, or one of another encoder)."""
    path = Path(directory) / META_FILE
    if not path.is_file():
        return None
    meta = json.loads(path.read_text(encoding="utf-8"))
    return int(meta.get("applied_seq", 0)) if meta["encoder"] == encoder_name else None


def _backend(kind: str) -> type[FaissVectorIndex]:
    if kind not in KINDS:
        raise ValueError(f"unknown index kind {kind!r}; choose from {sorted(KINDS)}")
    return KINDS[kind]


def new_vector_index(kind: str, encoder_name: str, dim: int) -> VectorIndex:
    """An empty dense index of `kind` (the `index_kind` setting)."""
    return _backend(kind)(encoder_name, dim, kind=kind)


def load_vector_index(directory: str | os.PathLike[str], kind: str, encoder_name: str, dim: int) -> VectorIndex:
    """A saved dense index, served by `kind`'s backend; raises IndexMismatchError if another encoder built it."""
    return _backend(kind).load(directory, encoder_name, dim, kind=kind)
