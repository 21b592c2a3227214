"""Dense vector index keyed by database id.

Design (checked against faiss-cpu 1.15):

* Vectors live in a faiss index under dense internal *labels* (0, 1, 2, ...);
  this module maps labels to int64 database ids itself. A single code path
  then serves every index kind, because HNSW does not implement remove_ids.
* Removing or replacing a record leaves a tombstone: the old label is masked
  in every search, and the record is re-added under a fresh label. Tombstones
  are purged by `compact()`, which save() calls once they exceed 20 %.
* Kind "flat" (exact inner product) is used while the index holds fewer than
  `ivf_threshold` vectors; above it a flat scan of 512-d vectors costs more
  than the latency budget (3 ms at 20k, 17 ms at 100k, 0.2 s at 10⁶ on 2
  cores), so "auto" switches to IVF (`optimize`, on the index worker's
  thread; the index serves exactly meanwhile): k-means cells (`ivf_nlist`: 4·√n of
  them, trained on 40 vectors a cell), of which a query scans the `nprobe`
  nearest (at 20k 0.5 ms, at 10⁶ 4.4 ms, recall@10 0.997 and 0.991 with
  nprobe 128: scripts/bench_ann.py). IVF rather than HNSW because an HNSW
  graph of 10⁶ vectors takes more than 15 minutes to build, IVF cells under
  4 (2 of them training); "hnsw" can still be forced. Once the index has
  grown fourfold past the size its cells were trained for, `optimize` trains
  them again.
* Filters are applied before the top-k, never after. Small allowed sets
  (up to `exact_filter_limit`) are scored exactly from the stored vectors,
  whatever the kind. Larger ones go to faiss as an IDSelector: exact for
  flat; HNSW walks the graph with it; IVF scans nprobe × (count / allowed)
  cells, so as many allowed vectors are scored as an unfiltered search scores.
* The IVF centroids travel with the index (`centroids`/`build`, hence the
  index snapshot), so a process starting from a snapshot assigns the vectors
  to cells without training them again.

Vectors must be L2-normalised, so inner product equals cosine similarity.
"""

import json
import math
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
LIVE_SLICE = 65_536  # vectors copied at a time by `live`, `build` and `optimize`
SWAP_ROWS = 1_024  # `optimize` adds at most this many vectors under the lock (those added while it ran)
KINDS_BUILT = ("flat", "ivf", "hnsw")  # what a faiss index of this module can be; "auto" picks flat or ivf
IVF_TRAIN_PER_LIST = 40  # k-means sample: vectors per cell (faiss warns below 39)
IVF_TRAIN_ITERATIONS = 10  # k-means iterations; more did not raise recall (scripts/bench_ann.py)
IVF_RETRAIN_GROWTH = 4  # retrain the cells once the index holds this many times the vectors they were trained on


def ivf_nlist(count: int) -> int:
    """Cells for `count` vectors: 4·√n (txtai's rule; 4,000 at 10⁶), at most one per 40 vectors."""
    return max(1, min(int(4 * np.sqrt(count)), count // IVF_TRAIN_PER_LIST))


def new_ivf(dim: int, centroids: np.ndarray) -> faiss.IndexIVFFlat:
    """An empty IVF index over these cell centroids (trained already), with a direct map so vectors
    can be read back by label."""
    quantizer = faiss.IndexFlatIP(dim)
    quantizer.add(np.ascontiguousarray(centroids, dtype=np.float32))
    index = faiss.IndexIVFFlat(quantizer, dim, len(centroids), faiss.METRIC_INNER_PRODUCT)  # faiss keeps the quantizer alive
    index.make_direct_map(True)
    return index


def train_ivf_centroids(sample: np.ndarray, nlist: int) -> np.ndarray:
    """k-means centroids (spherical, as the vectors are unit rows) of `nlist` cells over `sample`."""
    kmeans = faiss.Kmeans(sample.shape[1], nlist, niter=IVF_TRAIN_ITERATIONS, spherical=True,
                          max_points_per_centroid=IVF_TRAIN_PER_LIST, seed=1234)
    kmeans.train(np.ascontiguousarray(sample, dtype=np.float32))
    return np.asarray(kmeans.centroids, dtype=np.float32)


class IndexMismatchError(RuntimeError):
    """A saved index was built by a different encoder than the one loaded."""


class VectorIndex(Protocol):
    """What MatchEngine needs of a dense index; a backend is one module implementing it, named in KINDS."""

    encoder_name: str
    dim: int
    applied_seq: int

    def add(self, ids: np.ndarray, vectors: np.ndarray) -> None: ...
    def build(self, ids: np.ndarray, vectors: np.ndarray, centroids: np.ndarray | None = None) -> None:
        """Replace the contents at once (a fresh start from stored vectors): must be quick; a slow
        structure is left to `optimize`, which may start from `centroids` (of `centroids()`).
        float32 rows are taken as unit rows; rows of a lower precision (as stored) are converted
        and normalised a slice at a time."""
    def centroids(self) -> np.ndarray | None:
        """What spares `optimize` its training in another process (IVF centroids), or None."""
    def optimize(self, lock: AbstractContextManager[Any]) -> bool:
        """Build what `build` deferred, outside `lock`, taking `lock` only to swap it in; False if nothing to do."""
    @property
    def needs_cells(self) -> bool:
        """Whether `optimize` has something to build."""
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

    def __init__(self, encoder_name: str, dim: int, kind: str = "auto", ivf_threshold: int = 20_000,
                 nprobe: int = 128, ef_search: int = 96, exact_filter_limit: int = 4_000):
        if kind not in ("auto", *KINDS_BUILT):
            raise ValueError(f"unknown index kind {kind!r}")
        self.encoder_name = encoder_name
        self.dim = dim
        self.applied_seq = 0
        self._mode = kind
        self._ivf_threshold = ivf_threshold
        self._nprobe = nprobe
        self._ef_search = ef_search
        self._exact_filter_limit = exact_filter_limit
        self._index = self._new_index("hnsw" if kind == "hnsw" else "flat")
        self._label_ids = np.zeros(0, dtype=np.int64)  # label -> db id, -1 once removed
        self._id_label: dict[int, int] = {}
        self._centroids: np.ndarray | None = None  # of the IVF cells, to serve or taken from a snapshot

    @property
    def kind(self) -> str:
        if isinstance(self._index, faiss.IndexIVF):
            return "ivf"
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
        if kind == "ivf":
            assert self._centroids is not None, "an IVF index needs its centroids (set by add or optimize)"
            return new_ivf(self.dim, self._centroids)
        index = faiss.IndexHNSWFlat(self.dim, 32, faiss.METRIC_INNER_PRODUCT)
        index.hnsw.efConstruction = 40
        index.hnsw.efSearch = self._ef_search
        return index

    def add(self, ids: Iterable[int] | np.ndarray, vectors: np.ndarray) -> None:
        """Insert or replace vectors for the given database ids.

        Never trains: an index that crosses the IVF threshold here (a request's own record may be
        the one) stays flat and exact until `optimize`, on the index worker's thread, swaps the
        cells in, so no write waits seconds for k-means under the engine's lock.
        """
        ids = np.asarray(ids, dtype=np.int64).ravel()
        vectors = np.ascontiguousarray(vectors, dtype=np.float32).reshape(len(ids), self.dim)
        if len(set(ids.tolist())) != len(ids):
            raise ValueError("duplicate ids in one add() call")
        self.remove(ids)
        start = int(self._index.ntotal)
        self._index.add(vectors)
        self._label_ids = np.concatenate([self._label_ids, ids])
        self._id_label.update(zip(ids.tolist(), range(start, start + len(ids)), strict=True))

    @property
    def needs_cells(self) -> bool:
        """IVF cells are due: an "auto" index built flat (`build`, or loaded so) that holds enough
        vectors for IVF, or an IVF index that has outgrown the size its cells were trained for."""
        if self._mode not in ("auto", "ivf") or not self.count:
            return False
        if self.kind == "ivf":
            return self._outgrown(self._cells)
        return self.kind == "flat" and self.count >= self._threshold

    @property
    def _cells(self) -> int:
        """The IVF index's number of cells (0 for another kind)."""
        return int(faiss.extract_index_ivf(self._index).nlist) if self.kind == "ivf" else 0

    @property
    def _threshold(self) -> int:
        return self._ivf_threshold if self._mode == "auto" else 1

    def _outgrown(self, nlist: int) -> bool:
        """Cells trained for a quarter of the vectors now held or fewer (nlist grows as √n)."""
        return nlist * math.sqrt(IVF_RETRAIN_GROWTH) < ivf_nlist(self.count)

    def _training_sample(self) -> np.ndarray:
        """A k-means sample of the live vectors: 40 a cell of the count's `ivf_nlist`, in label order."""
        live = np.flatnonzero(self._label_ids >= 0)
        take = np.random.default_rng(0).choice(len(live), min(len(live), ivf_nlist(self.count) * IVF_TRAIN_PER_LIST), replace=False)
        sample: np.ndarray = self._index.reconstruct_batch(live[np.sort(take)])
        return sample

    def build(self, ids: Iterable[int] | np.ndarray, vectors: np.ndarray, centroids: np.ndarray | None = None) -> None:
        """Replace the contents with these vectors, as a flat index whatever their number.

        A flat index of 100,000 vectors is built in a fraction of a second, the IVF cells of 10⁶
        in minutes (an HNSW graph of 100,000 took 4): a fresh start searches exactly until
        `optimize` has built the rest in the background. `centroids` (of a snapshot) spare
        `optimize` the training.
        """
        ids = np.asarray(ids, dtype=np.int64).ravel()
        vectors = np.asarray(vectors).reshape(len(ids), self.dim)
        self._index = self._new_index("hnsw" if self._mode == "hnsw" else "flat")
        self._label_ids = np.zeros(0, dtype=np.int64)
        self._id_label = {}
        self._centroids = None if centroids is None else np.asarray(centroids, dtype=np.float32)
        if len(ids):
            for start in range(0, len(ids), LIVE_SLICE):
                rows = vectors[start:start + LIVE_SLICE]
                self._index.add(np.ascontiguousarray(rows) if rows.dtype == np.float32 else unit_rows(rows))
            self._label_ids = ids.copy()
            self._id_label = dict(zip(ids.tolist(), range(len(ids)), strict=True))

    def centroids(self) -> np.ndarray | None:
        """The IVF centroids the index serves with (or will, once optimised), for a snapshot to keep."""
        return self._centroids

    def optimize(self, lock: AbstractContextManager[Any]) -> bool:
        """Build the IVF index of an index that `needs_cells`, without holding `lock` meanwhile.

        Centroids are trained on a sample read under `lock` (unless the index has centroids its
        count has not outgrown: a snapshot's), then every label of the current index (tombstones
        too, still masked, so the label map stays valid) is added to the IVF index a slice at a
        time, each slice read under `lock`; the last few (vectors added meanwhile) are added
        under it, just before the swap. If the index was replaced meanwhile (compact, build),
        nothing is swapped and a later call starts again.
        """
        with lock:
            if not self.needs_cells:
                return False
            current, centroids, nlist = self._index, self._centroids, ivf_nlist(self.count)
            if self.kind == "ivf" or centroids is None or self._outgrown(len(centroids)):
                sample = self._training_sample()
                centroids = None
        if centroids is None:
            centroids = train_ivf_centroids(sample, nlist)
        cells = new_ivf(self.dim, centroids)
        added = 0
        while True:
            with lock:
                if self._index is not current:
                    return False
                end = min(int(current.ntotal), added + LIVE_SLICE)
                rows = current.reconstruct_batch(np.arange(added, end, dtype=np.int64))
                if end - added < SWAP_ROWS:
                    cells.add(rows)
                    self._index, self._centroids = cells, centroids
                    return True
            cells.add(rows)
            added = end

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
        allowed = self.count
        if allowed_ids is not None:
            labels = self._labels_of(allowed_ids)
            if len(labels) <= self._exact_filter_limit:
                return self._exact_search(queries, k, labels)
            selector: faiss.IDSelector | None = faiss.IDSelectorBatch(labels)
            allowed = len(labels)
        elif self.tombstones:
            selector = faiss.IDSelectorNot(faiss.IDSelectorBatch(np.flatnonzero(self._label_ids < 0)))
        else:
            selector = None
        return self._faiss_search(queries, k, selector, allowed)

    def _faiss_search(self, queries: np.ndarray, k: int, selector: faiss.IDSelector | None,
                      allowed: int) -> tuple[np.ndarray, np.ndarray]:
        # faiss's stub lacks SearchParametersHNSW/IVF and the SWIG keyword constructors; all exist at run time.
        if self.kind == "hnsw":
            params = faiss.SearchParametersHNSW(efSearch=max(self._ef_search, k), sel=selector)  # type: ignore[attr-defined]
        elif self.kind == "ivf":  # as many allowed vectors scored as unfiltered: more cells for a smaller share
            nprobe = min(self._cells, math.ceil(self._nprobe * self.count / max(1, allowed)))
            params = faiss.SearchParametersIVF(nprobe=nprobe, sel=selector)  # type: ignore[call-arg]
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
        if isinstance(index._index, faiss.IndexIVF):
            index._index.make_direct_map(True)
            index._centroids = index._index.quantizer.reconstruct_n(0, index._index.nlist)
        index._label_ids = np.load(directory / LABELS_FILE)
        live = np.flatnonzero(index._label_ids >= 0)
        index._id_label = dict(zip(index._label_ids[live].tolist(), live.tolist(), strict=True))
        index.applied_seq = int(meta.get("applied_seq", 0))
        if index._mode not in ("auto", index.kind):  # the caller forced another kind than the saved one
            index.compact(kind="flat" if index._mode == "ivf" else index._mode)  # IVF cells: left to optimize
        return index


# Every `TECHMATCH_INDEX_KIND` and the backend that serves it. A new backend is a module with a
# class implementing VectorIndex (constructor `(encoder_name, dim, kind=...)` and a `load`
# classmethod), added here.
KINDS: dict[str, type[FaissVectorIndex]] = {"auto": FaissVectorIndex, **dict.fromkeys(KINDS_BUILT, FaissVectorIndex)}


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


def new_vector_index(kind: str, encoder_name: str, dim: int, **options: Any) -> VectorIndex:
    """An empty dense index of `kind` (the `index_kind` setting); `options` (`nprobe`) go to its constructor."""
    return _backend(kind)(encoder_name, dim, kind=kind, **options)


def load_vector_index(directory: str | os.PathLike[str], kind: str, encoder_name: str, dim: int, **options: Any) -> VectorIndex:
    """A saved dense index, served by `kind`'s backend; raises IndexMismatchError if another encoder built it."""
    return _backend(kind).load(directory, encoder_name, dim, kind=kind, **options)
