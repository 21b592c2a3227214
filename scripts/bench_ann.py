"""Recall, latency and memory of FAISS index kinds for one side's dense index.

    python scripts/bench_ann.py N [--queries Q] [--kinds flat32,hnsw32,...] [--build-limit 900]

Chooses the index kind and the stored precision for N vectors (512-d unit
vectors, inner product) by measurement. The engine asks the index for a pool
of k=100 candidates and re-scores them exactly, so what matters is recall@100
of the pool, recall@10 (the part users see) and single-query latency at k=100.

Data. Encoding N texts would take hours, so the base vectors are synthesised
from the m3e vectors of the 1,000 shared paper abstracts (cached under /tmp).
Real sentence vectors are clustered and anisotropic (random pairs have cosine
well above 0), so uniform random vectors would make ANN search look easier or
harder than it is. Each synthetic vector is a convex mixture of a random real
vector and two of its 10 nearest real neighbours (Dirichlet(1,1,1) weights),
plus isotropic gaussian noise whose norm is half the median distance between a
real vector and its nearest real neighbour, then normalised. The mixture keeps
vectors on the real manifold; the noise makes them distinct. The script prints
the cosine statistics of both sets so the resemblance can be judged. Queries
are the 140 demand texts (held out: never part of the base), encoded as the
service encodes a demand; for Q > 140 the extra queries are noisy copies.

Ground truth is exact inner-product top-100 (faiss.knn, the IndexFlatIP scan).
Builds use 2 threads, queries 1 thread, one query at a time. Filtered search
uses random allowed subsets of 1 % and 10 % of the base, the selector built
inside the timed call as the service does, and compares two strategies: the
index's own search with an IDSelectorBatch (IVF scanning nprobe / share cells,
as the service does), and an exact scan of the allowed vectors (what
vector_index.py does for small allowed sets).

ivf_flat is built as the service builds it (vector_index.py: ivf_nlist cells,
k-means on 40 vectors a cell, timed apart as "train"); ivf_sq8 reuses its cells.
"""

import argparse
import json
import os
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import faiss
import numpy as np
from tqdm import tqdm

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from app.matching.text import document_text  # noqa: E402
from app.matching.vector_index import IVF_TRAIN_PER_LIST, ivf_nlist, new_ivf, train_ivf_centroids  # noqa: E402

DATA = Path("/work/shared/data")
K = 100
ADD_CHUNK = 20_000
ALL_KINDS = ("flat32", "flat16", "sq8", "ivf_flat", "ivf_sq8", "hnsw32", "hnsw32_fp16", "hnsw32_sq8")
METRIC = faiss.METRIC_INNER_PRODUCT


def rss_bytes() -> int:
    with open("/proc/self/status", encoding="ascii") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    return 0


def real_vectors(encoder_path: Path) -> tuple[np.ndarray, np.ndarray]:
    """(abstract vectors, demand vectors) from the shared data, cached per encoder."""
    cache = Path("/tmp") / f"techmatch_bench_ann_{encoder_path.name}.npz"
    if cache.exists():
        cached = np.load(cache)
        return cached["docs"], cached["queries"]
    from app.matching.encoder import load_encoder

    encoder = load_encoder(encoder_path, threads=2)
    papers = [json.loads(line) for line in (DATA / "csl_dev.jsonl").read_text(encoding="utf-8").splitlines() if line.strip()]
    demands = [json.loads(line) for line in (DATA / "demands_dev.jsonl").read_text(encoding="utf-8").splitlines() if line.strip()]
    print(f"encoding {len(papers)} abstracts and {len(demands)} demands with {encoder.name} (cached in {cache})")
    docs = encoder.encode_documents([document_text(p["title"], p["keywords"], p["abstract"]) for p in papers], show_progress=True)
    queries = encoder.encode_documents([document_text(d["title"], None, d["description"]) for d in demands])
    np.savez(cache, docs=docs, queries=queries)
    return docs, queries


def normalised(x: np.ndarray) -> np.ndarray:
    out: np.ndarray = (x / np.linalg.norm(x, axis=1, keepdims=True)).astype(np.float32)
    return out


def synthetic_base(real: np.ndarray, n: int, rng: np.random.Generator) -> tuple[np.ndarray, float]:
    """N unit vectors mixed from real neighbours plus noise; returns (vectors, noise sigma per dimension)."""
    sims = real @ real.T
    np.fill_diagonal(sims, -np.inf)
    neighbours = np.argsort(-sims, axis=1)[:, :10]
    nn_distance = np.sqrt(np.maximum(0.0, 2 - 2 * sims.max(axis=1)))
    sigma = float(0.5 * np.median(nn_distance) / np.sqrt(real.shape[1]))
    base = np.empty((n, real.shape[1]), dtype=np.float32)
    for start in tqdm(range(0, n, 100_000), desc="synthesise", unit="100k"):
        m = min(100_000, n - start)
        seeds = rng.integers(0, len(real), m)
        picks = neighbours[seeds[:, None], rng.integers(0, 10, (m, 2))]
        weights = rng.dirichlet((1.0, 1.0, 1.0), m).astype(np.float32)
        mixed = (weights[:, :1] * real[seeds] + weights[:, 1:2] * real[picks[:, 0]] + weights[:, 2:] * real[picks[:, 1]])
        mixed += rng.normal(0, sigma, mixed.shape).astype(np.float32)
        base[start:start + m] = normalised(mixed)
    return base, sigma


def describe(name: str, vectors: np.ndarray, rng: np.random.Generator) -> str:
    """Cosine of random pairs and to the nearest other vector, on a 1,000-vector sample."""
    sample = vectors[rng.choice(len(vectors), min(1000, len(vectors)), replace=False)]
    sims = sample @ sample.T
    pairs = sims[np.triu_indices(len(sample), 1)]
    np.fill_diagonal(sims, -np.inf)
    nearest = sims.max(axis=1)
    return (f"  {name:<34} random-pair cosine mean {pairs.mean():.3f} (p5 {np.percentile(pairs, 5):.3f}, p95 "
            f"{np.percentile(pairs, 95):.3f}); nearest-of-1000 cosine median {np.median(nearest):.3f}")


def exact_top(queries: np.ndarray, base: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    faiss.omp_set_num_threads(2)
    scores, labels = faiss.knn(queries, base, k, metric=METRIC)
    return scores, labels


def recall(found: np.ndarray, truth: np.ndarray, k: int) -> float:
    return float(np.mean([len(set(f[:k].tolist()) & set(t[:k].tolist())) / k for f, t in zip(found, truth, strict=True)]))


class BuildTooSlowError(RuntimeError):
    pass


def add_in_chunks(index: faiss.Index, base: np.ndarray, desc: str, limit: float, started: float) -> None:
    """Add with a progress bar; give up (raise) once the build exceeds `limit` seconds."""
    for start in tqdm(range(0, len(base), ADD_CHUNK), desc=desc, unit="20k"):
        index.add(base[start:start + ADD_CHUNK])
        elapsed = time.perf_counter() - started
        if elapsed > limit and start + ADD_CHUNK < len(base):
            done = start + ADD_CHUNK
            raise BuildTooSlowError(f"over the {limit:.0f} s limit: stopped after {elapsed:.0f} s with {done:,}/{len(base):,} added "
                                    f"(extrapolated ≥ {elapsed * len(base) / done:.0f} s)")


def train_sample(base: np.ndarray, n: int, rng: np.random.Generator) -> np.ndarray:
    return base[np.sort(rng.choice(len(base), min(n, len(base)), replace=False))]


@dataclass
class Setting:
    label: str
    params: Callable[[faiss.IDSelector | None, float], faiss.SearchParameters]  # (selector, allowed share)


@dataclass
class Built:
    index: faiss.Index
    settings: list[Setting]
    note: str = ""
    keep: list[object] = field(default_factory=list)  # objects faiss points to without owning them


def plain(sel: faiss.IDSelector | None, share: float) -> faiss.SearchParameters:
    return faiss.SearchParameters(sel=sel)


def hnsw_settings() -> list[Setting]:
    return [Setting(f"efSearch={ef}" + (" (eff. 100)" if ef < K else ""),
                    lambda sel, share, ef=ef: faiss.SearchParametersHNSW(efSearch=ef, sel=sel)) for ef in (64, 128, 256, 512)]


def ivf_settings(nlist: int) -> list[Setting]:
    return [Setting(f"nprobe={p}", lambda sel, share, p=p: faiss.SearchParametersIVF(nprobe=min(nlist, int(np.ceil(p / share))), sel=sel))
            for p in (16, 32, 64, 128)]


class Builder:
    """Builds each kind; keeps the first HNSW graph so the other HNSW storages reuse it."""

    def __init__(self, base: np.ndarray, limit: float, rng: np.random.Generator):
        self.base = base
        self.dim = base.shape[1]
        self.limit = limit
        self.rng = rng
        self.graph_donor: faiss.IndexHNSW | None = None
        self.graph_abandoned = False
        self.ivf_centroids: np.ndarray | None = None
        self.nlist = ivf_nlist(len(base))

    def build(self, kind: str, started: float) -> Built:
        d = self.dim
        if kind in ("flat32", "flat16", "sq8"):
            index = {"flat32": lambda: faiss.IndexFlatIP(d),
                     "flat16": lambda: faiss.IndexScalarQuantizer(d, faiss.ScalarQuantizer.QT_fp16, METRIC),
                     "sq8": lambda: faiss.IndexScalarQuantizer(d, faiss.ScalarQuantizer.QT_8bit, METRIC)}[kind]()
            index.train(train_sample(self.base, 100_000, self.rng))
            add_in_chunks(index, self.base, kind, self.limit, started)
            return Built(index, [Setting("exact scan", plain)])
        if kind.startswith("hnsw32"):
            return self._hnsw(kind, started)
        return self._ivf(kind, started)

    def _hnsw(self, kind: str, started: float) -> Built:
        d = self.dim
        if kind != "hnsw32" and self.graph_abandoned:
            raise BuildTooSlowError("skipped: needs the hnsw32 graph, whose build was abandoned")
        if kind == "hnsw32":
            index = faiss.IndexHNSWFlat(d, 32, METRIC)
        else:
            qtype = faiss.ScalarQuantizer.QT_fp16 if kind == "hnsw32_fp16" else faiss.ScalarQuantizer.QT_8bit
            index = faiss.IndexHNSWSQ(d, qtype, 32, METRIC)
            index.train(train_sample(self.base, 100_000, self.rng))
        index.hnsw.efConstruction = 40  # as in vector_index.py
        if self.graph_donor is not None:
            # Same graph as hnsw32 (built with float32 distances), other storage: the search is measured, not the build.
            index.storage.add(self.base)
            index.hnsw = self.graph_donor.hnsw
            index.ntotal = self.graph_donor.ntotal
            return Built(index, hnsw_settings(), note="graph of hnsw32 reused; time = storage only")
        try:
            add_in_chunks(index, self.base, kind, self.limit, started)
        except BuildTooSlowError:
            self.graph_abandoned = kind == "hnsw32"
            raise
        self.graph_donor = index
        return Built(index, hnsw_settings())

    def _ivf(self, kind: str, started: float) -> Built:
        d = self.dim
        sample = min(IVF_TRAIN_PER_LIST * self.nlist, len(self.base))
        if self.ivf_centroids is None:
            self.ivf_centroids = train_ivf_centroids(train_sample(self.base, sample, self.rng), self.nlist)
            note = f"nlist={self.nlist}, train {time.perf_counter() - started:.0f} s on {sample:,}"
        else:
            note = f"nlist={self.nlist}, centroids of the first IVF reused"
        if kind == "ivf_flat":
            index = new_ivf(d, self.ivf_centroids)
            quantizer = index.quantizer
        else:
            quantizer = faiss.IndexFlatIP(d)
            quantizer.add(self.ivf_centroids)
            index = faiss.IndexIVFScalarQuantizer(quantizer, d, self.nlist, faiss.ScalarQuantizer.QT_8bit, METRIC)
            index.train(train_sample(self.base, sample, self.rng))  # the scalar quantizer only: the cells are given
            index.make_direct_map(True)
        add_in_chunks(index, self.base, kind, self.limit, started)
        return Built(index, ivf_settings(self.nlist), note=note, keep=[quantizer])


def latencies(run: Callable[[int], tuple[np.ndarray, np.ndarray]], n: int, desc: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Run query i one at a time; returns (times in ms, scores, labels)."""
    times = np.empty(n)
    scores = np.full((n, K), -np.inf, dtype=np.float32)
    labels = np.full((n, K), -1, dtype=np.int64)
    for i in tqdm(range(n), desc=desc, unit="q", leave=False):
        t0 = time.perf_counter()
        s, lab = run(i)
        times[i] = (time.perf_counter() - t0) * 1000
        scores[i, :s.shape[1]], labels[i, :lab.shape[1]] = s[0], lab[0]
    return times, scores, labels


def exact_subset(index: faiss.Index, query: np.ndarray, subset: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The service's small-set path: decode the allowed vectors from the index and scan them."""
    sims = index.reconstruct_batch(subset) @ query[0]
    top = np.argpartition(-sims, min(K, len(sims) - 1))[:K]
    top = top[np.argsort(-sims[top], kind="stable")]
    return sims[top][None], subset[top][None]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("n", type=int, help="number of base vectors")
    parser.add_argument("--queries", type=int, default=140, help="queries (the first 140 are the real demands)")
    parser.add_argument("--kinds", default=",".join(ALL_KINDS), help=f"comma-separated, from {','.join(ALL_KINDS)}")
    parser.add_argument("--build-limit", type=float, default=900, help="seconds after which a build is abandoned")
    parser.add_argument("--encoder", type=Path, default=Path(os.environ.get("TECHMATCH_ENCODER", "/work/main/models/m3e-small")))
    args = parser.parse_args()
    kinds = args.kinds.split(",")
    if unknown := set(kinds) - set(ALL_KINDS):
        parser.error(f"unknown kinds {sorted(unknown)}")
    if args.n < 1000:
        parser.error("N must be at least 1000")

    rng = np.random.default_rng(0)
    docs, demand_vectors = real_vectors(args.encoder)
    base, sigma = synthetic_base(docs, args.n, rng)
    extra = args.queries - len(demand_vectors)
    queries = demand_vectors[:args.queries]
    if extra > 0:
        noisy = demand_vectors[rng.integers(0, len(demand_vectors), extra)] + rng.normal(0, sigma, (extra, docs.shape[1]))
        queries = np.concatenate([queries, normalised(noisy)])
    queries = np.ascontiguousarray(queries, dtype=np.float32)
    print(f"\nN={args.n:,} base vectors, dim {base.shape[1]}, {len(queries)} queries, k={K}; noise sigma {sigma:.4f}/dim")
    print(describe("real abstracts (1,000)", docs, rng))
    print(describe("synthetic base", base, rng))

    t0 = time.perf_counter()
    gt_scores, gt_labels = exact_top(queries, base, K)
    print(f"ground truth (exact top-{K}): {time.perf_counter() - t0:.1f} s; query→base cosine at rank 1/10/100: "
          f"{np.median(gt_scores[:, 0]):.3f}/{np.median(gt_scores[:, 9]):.3f}/{np.median(gt_scores[:, 99]):.3f} (median)")
    subsets = {f"{share:.0%}": np.sort(rng.choice(args.n, int(share * args.n), replace=False)) for share in (0.01, 0.10)}
    subset_truth = {}
    for name, subset in subsets.items():
        _, labels = exact_top(queries, base[subset], K)
        subset_truth[name] = subset[labels]

    rows: list[str] = []
    measured: list[tuple[str, str, float, float, float, float]] = []  # kind, setting, p50, recall@10, recall@100, MiB
    filtered_rows: list[str] = []
    builder = Builder(base, args.build_limit, rng)
    for kind in kinds:
        faiss.omp_set_num_threads(2)
        rss0 = rss_bytes()
        started = time.perf_counter()
        try:
            built = builder.build(kind, started)
        except BuildTooSlowError as exc:
            rows.append(f"| {kind} | — | {exc} | | | | | | |")
            print(f"{kind}: {exc}")
            continue
        build_s = time.perf_counter() - started
        grown = (rss_bytes() - rss0) / 2**20
        size = len(faiss.serialize_index(built.index)) / 2**20
        faiss.omp_set_num_threads(1)
        for setting in built.settings:
            params = setting.params(None, 1.0)
            times, scores, labels = latencies(lambda i, p=params, index=built.index: index.search(queries[i:i + 1], K, params=p),
                                              len(queries), f"{kind} {setting.label}")
            rows.append(f"| {kind} | {setting.label} | {build_s:.0f}{' (' + built.note + ')' if built.note else ''} | {size:.0f} | "
                        f"{grown:.0f} | {np.percentile(times, 50):.2f} | {np.percentile(times, 95):.2f} | "
                        f"{recall(labels, gt_labels, 10):.4f} | {recall(labels, gt_labels, K):.4f} |")
            print(rows[-1])
            measured.append((kind, setting.label, float(np.percentile(times, 50)), recall(labels, gt_labels, 10),
                             recall(labels, gt_labels, K), size))
            if kind in ("flat16", "sq8"):
                same = np.mean([np.array_equal(a, b) for a, b in zip(labels[:, :10], gt_labels[:, :10], strict=True)])
                error = np.abs(scores[:, :10] - gt_scores[:, :10]).max()
                print(f"  {kind} vs float32 exact: top-10 identical in order for {same:.1%} of queries; "
                      f"max |score error| in top-10 {error:.2e}")
            for name, subset in subsets.items():
                def filtered(i: int, subset: np.ndarray = subset, setting: Setting = setting,
                             index: faiss.Index = built.index) -> tuple[np.ndarray, np.ndarray]:
                    result: tuple[np.ndarray, np.ndarray] = index.search(
                        queries[i:i + 1], K, params=setting.params(faiss.IDSelectorBatch(subset), len(subset) / args.n))
                    return result
                times, _, labels = latencies(filtered, len(queries), f"{kind} {setting.label} allowed {name}")
                filtered_rows.append(f"| {kind} | {setting.label} | {name} | IDSelectorBatch | {np.percentile(times, 50):.2f} | "
                                     f"{np.percentile(times, 95):.2f} | {recall(labels, subset_truth[name], 10):.4f} | "
                                     f"{recall(labels, subset_truth[name], K):.4f} | {(labels >= 0).sum(axis=1).mean():.1f} |")
                print(filtered_rows[-1])
        for name, subset in subsets.items():
            times, _, labels = latencies(lambda i, s=subset, index=built.index: exact_subset(index, queries[i:i + 1], s),
                                         len(queries), f"{kind} exact over allowed {name}")
            filtered_rows.append(f"| {kind} | decode + scan | {name} | exact over allowed | {np.percentile(times, 50):.2f} | "
                                 f"{np.percentile(times, 95):.2f} | {recall(labels, subset_truth[name], 10):.4f} | "
                                 f"{recall(labels, subset_truth[name], K):.4f} | {(labels >= 0).sum(axis=1).mean():.1f} |")
            print(filtered_rows[-1])
        if builder.graph_donor is not built.index:
            del built

    print(f"\n## Unfiltered, N={args.n:,}, k={K}, {len(queries)} queries, 1 query thread (build: 2 threads)\n")
    print("| kind | setting | build s | index MiB | RSS growth MiB | p50 ms | p95 ms | recall@10 | recall@100 |")
    print("|---|---|---|---|---|---|---|---|---|")
    print("\n".join(rows))
    print(f"\n## Filtered (random allowed subsets), recall against exact top-{K} within the subset\n")
    print("| kind | setting | allowed | strategy | p50 ms | p95 ms | recall@10 | recall@100 | results returned (mean) |")
    print("|---|---|---|---|---|---|---|---|---|")
    print("\n".join(filtered_rows))
    recommend(measured)


def recommend(measured: list[tuple[str, str, float, float, float, float]]) -> None:
    """Fastest setting that keeps the pool (recall@100 ≥ 0.95) and the visible top-10 (recall@10 ≥ 0.99) intact."""
    good = [m for m in measured if m[3] >= 0.99 and m[4] >= 0.95]
    if not good:
        print("\nrecommendation: no measured setting reaches recall@10 ≥ 0.99 and recall@100 ≥ 0.95")
        return
    kind, setting, p50, r10, r100, size = min(good, key=lambda m: m[2])
    print(f"\nrecommendation (fastest with recall@10 ≥ 0.99 and recall@100 ≥ 0.95): {kind} {setting}: "
          f"p50 {p50:.2f} ms, recall@10 {r10:.4f}, recall@100 {r100:.4f}, {size:.0f} MiB")
    smallest = min(good, key=lambda m: (m[5], m[2]))
    if smallest[:2] != (kind, setting):
        print(f"smallest with the same recall: {smallest[0]} {smallest[1]}: p50 {smallest[2]:.2f} ms, {smallest[5]:.0f} MiB")


if __name__ == "__main__":
    main()
