"""The vector index and the match engine on their own: no database, random unit vectors.

Like txtai's backend tests, every index kind goes through the same checks: a small flat index,
one of 25,000 vectors that "auto" has switched to IVF cells, and an HNSW graph of as many (a kind
that can still be forced). Each is built once per module and
saved; a test that changes an index works on a fresh copy loaded from that save, so the save/load
round trip runs every time. Ids are not the index's internal labels (10,000 + 3·i), so a mix-up
between the two shows.
"""

import json
from contextlib import nullcontext
from pathlib import Path

import numpy as np
import pytest
from engine_support import configured_encoder

from app.matching.engine import MatchEngine
from app.matching.lexical import BM25Index
from app.matching.vector_index import FaissVectorIndex, IndexMismatchError

DIM = 64  # the index does not care where vectors come from; 64 keeps a 25k HNSW build to seconds
BIG = 25_000  # above FaissVectorIndex's ivf_threshold (20,000)
K = 10


def unit_vectors(rng: np.random.Generator, n: int, dim: int = DIM) -> np.ndarray:
    vectors = rng.standard_normal((n, dim)).astype(np.float32)
    return vectors / np.linalg.norm(vectors, axis=1, keepdims=True)


def topical_vectors(rng: np.random.Generator, n: int) -> np.ndarray:
    """Unit vectors around 100 topics (cosine about 0.7 to their topic), as sentence vectors cluster
    by subject; isotropic random vectors have no neighbourhoods for IVF cells or a graph to find."""
    topics = unit_vectors(np.random.default_rng(1), 100)
    vectors = topics[rng.integers(0, len(topics), n)] + rng.standard_normal((n, DIM)).astype(np.float32) / np.sqrt(DIM)
    return vectors / np.linalg.norm(vectors, axis=1, keepdims=True)


def ids_for(n: int) -> np.ndarray:
    return 10_000 + 3 * np.arange(n, dtype=np.int64)


def exact_top(queries: np.ndarray, vectors: np.ndarray, ids: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """Brute-force top-k (scores, ids): the answer an index should give."""
    scores = queries @ vectors.T
    order = np.argsort(-scores, axis=1, kind="stable")[:, :k]
    return np.take_along_axis(scores, order, axis=1), ids[order]


def recall(found: np.ndarray, truth: np.ndarray) -> float:
    return float(np.mean([len(set(f) & set(t)) / len(t) for f, t in zip(found.tolist(), truth.tolist(), strict=False)]))


class Built:
    """One index as built in memory, what it holds, and where it was saved."""

    def __init__(self, index: FaissVectorIndex, ids: np.ndarray, vectors: np.ndarray, directory: Path):
        self.index, self.ids, self.vectors, self.directory = index, ids, vectors, directory

    def copy(self) -> FaissVectorIndex:
        return FaissVectorIndex.load(self.directory, "random", DIM)


# The least recall@10 against exact search each kind must give.
RECALL = {"flat": 1.0, "ivf": 0.95, "hnsw": 0.9}


@pytest.fixture(scope="module", params=["flat", "ivf", "hnsw"])
def built(request, tmp_path_factory) -> Built:
    rng = np.random.default_rng(7)
    size = 2_000 if request.param == "flat" else BIG
    ids, vectors = ids_for(size), topical_vectors(rng, size)
    index = FaissVectorIndex("random", DIM, kind="hnsw" if request.param == "hnsw" else "auto")
    first = min(size, 19_999)
    index.add(ids[:first], vectors[:first])
    assert index.kind == ("hnsw" if request.param == "hnsw" else "flat")  # below the threshold "auto" stays exact
    index.add(ids[first:], vectors[first:])
    assert index.kind == ("hnsw" if request.param == "hnsw" else "flat")  # crossing it does not train in add()
    assert index.needs_cells == (request.param == "ivf")
    if request.param == "ivf":
        assert index.optimize(nullcontext()) and not index.needs_cells
    assert index.kind == request.param
    index.applied_seq = 42
    directory = tmp_path_factory.mktemp(f"index-{request.param}")
    index.save(directory)
    return Built(index, ids, vectors, directory)


@pytest.fixture
def queries() -> np.ndarray:
    return topical_vectors(np.random.default_rng(11), 20)


def test_search_finds_each_vector_first_and_the_true_neighbours(built, queries):
    sample = np.arange(0, len(built.ids), len(built.ids) // 20)
    _, found = built.index.search(built.vectors[sample], K)
    assert found[:, 0].tolist() == built.ids[sample].tolist()
    _, found = built.index.search(queries, K)
    _, truth = exact_top(queries, built.vectors, built.ids, K)
    assert recall(found, truth) >= RECALL[built.index.kind]


def test_a_small_filter_is_applied_before_the_top_k_and_scored_exactly(built, queries):
    """Up to exact_filter_limit allowed ids, every kind scores them from the stored vectors (_exact_search)."""
    allowed = np.random.default_rng(3).choice(len(built.ids), 500, replace=False)
    scores, found = built.index.search(queries, K, allowed_ids=built.ids[allowed])
    truth_scores, truth = exact_top(queries, built.vectors[allowed], built.ids[allowed], K)
    assert found.tolist() == truth.tolist()
    np.testing.assert_allclose(scores, truth_scores, atol=1e-5)


def test_a_large_filter_is_applied_before_the_top_k(built, queries):
    """Above exact_filter_limit the filter goes into the faiss search: k allowed results, not fewer (IVF
    scans as many more cells as the allowed share is small)."""
    allowed = np.random.default_rng(5).choice(len(built.ids), min(6_000, len(built.ids) // 2), replace=False)
    _, found = built.index.search(queries, K, allowed_ids=built.ids[allowed])
    assert set(found.ravel().tolist()) <= set(built.ids[allowed].tolist())
    _, truth = exact_top(queries, built.vectors[allowed], built.ids[allowed], K)
    assert recall(found, truth) >= min(RECALL[built.index.kind], 0.8)  # a filtered graph walk sees fewer nodes


def test_an_empty_filter_finds_nothing(built, queries):
    scores, found = built.index.search(queries[:1], K, allowed_ids=[])
    assert found.tolist() == [[-1] * K] and np.isneginf(scores).all()


def test_save_and_load_give_the_same_index(built, queries):
    loaded = built.copy()
    assert (loaded.kind, loaded.count, loaded.applied_seq) == (built.index.kind, len(built.ids), 42)
    for allowed in (None, built.ids[::7]):
        expected, got = built.index.search(queries, K, allowed), loaded.search(queries, K, allowed)
        assert got[1].tolist() == expected[1].tolist()
        np.testing.assert_array_equal(got[0], expected[0])
    with pytest.raises(IndexMismatchError, match="techmatch reindex"):
        FaissVectorIndex.load(built.directory, "another-encoder", DIM)


def test_replace_and_remove(built):
    index = built.copy()
    rng = np.random.default_rng(13)
    replaced, removed = int(built.ids[5]), [int(i) for i in built.ids[100:150]]
    new_vector = unit_vectors(rng, 1)
    index.add([replaced], new_vector)
    index.remove(removed + [-12345])  # an unknown id is ignored
    assert index.count == len(built.ids) - len(removed)
    assert index.tombstones == len(removed) + 1
    assert index.vector(removed[0]) is None
    np.testing.assert_allclose(index.vector(replaced), new_vector[0], atol=1e-6)
    _, found = index.search(new_vector, K)
    assert found[0, 0] == replaced
    _, found = index.search(built.vectors[5:6], K)
    assert replaced not in found[0].tolist()
    _, found = index.search(built.vectors[100:150], K)
    assert not set(found.ravel().tolist()) & set(removed)
    _, found = index.search(built.vectors[100:150], K, allowed_ids=removed)  # only removed ids allowed
    assert (found == -1).all()
    with pytest.raises(ValueError, match="duplicate ids"):
        index.add([1, 1], unit_vectors(rng, 2))


def test_compact_drops_tombstones_and_keeps_the_kind(built, queries):
    index = built.copy()
    removed = built.ids[::10]
    index.remove(removed)
    index.compact()
    assert (index.kind, index.tombstones, index.count) == (built.index.kind, 0, len(built.ids) - len(removed))
    keep = np.ones(len(built.ids), dtype=bool)
    keep[::10] = False
    _, found = index.search(queries, K)
    _, truth = exact_top(queries, built.vectors[keep], built.ids[keep], K)
    assert recall(found, truth) >= RECALL[built.index.kind]
    _, found = index.search(built.vectors[keep][:20], 1)
    assert found[:, 0].tolist() == built.ids[keep][:20].tolist()


def test_save_compacts_when_a_fifth_is_removed(built, tmp_path):
    index = built.copy()
    index.remove(built.ids[: len(built.ids) // 4])
    index.save(tmp_path)
    assert index.tombstones == 0 and index.kind == built.index.kind
    assert FaissVectorIndex.load(tmp_path, "random", DIM).count == len(built.ids) - len(built.ids) // 4



class AddingLock:
    """The engine's lock for `optimize`, which adds records on its `at`-th entry: records
    applied while the IVF cells were being built, as a keeper's catch-up would."""

    def __init__(self, index: FaissVectorIndex, at: int, ids: np.ndarray, vectors: np.ndarray):
        self.index, self.at, self.ids, self.vectors, self.entries = index, at, ids, vectors, 0

    def __enter__(self) -> None:
        self.entries += 1
        if self.entries == self.at:
            self.index.add(self.ids, self.vectors)

    def __exit__(self, *exc: object) -> None:
        return None


def test_a_bulk_build_serves_exactly_until_optimize_builds_the_cells(queries):
    """`build` (a fresh start) leaves a large index flat; `optimize` trains the cells and swaps them in,
    with the records added meanwhile; centroids given to `build` (a snapshot's) are used as they are."""
    rng = np.random.default_rng(23)
    ids, vectors = ids_for(BIG + 100), topical_vectors(rng, BIG + 100)
    index = FaissVectorIndex("random", DIM)
    index.build(ids[:BIG], vectors[:BIG].astype(np.float16))  # as stored: converted and normalised
    assert (index.kind, index.needs_cells, index.centroids()) == ("flat", True, None)
    adding = AddingLock(index, 3, ids[BIG:], vectors[BIG:])  # 1: the sample, 2: the first slice, 3: the rest
    assert index.optimize(adding) and adding.entries == 3
    assert (index.kind, index.count, index.needs_cells) == ("ivf", BIG + 100, False)
    _, found = index.search(queries, K)
    assert recall(found, exact_top(queries, vectors, ids, K)[1]) >= RECALL["ivf"]
    _, found = index.search(vectors[BIG:BIG + 20], 1)
    assert found[:, 0].tolist() == ids[BIG:BIG + 20].tolist()
    assert not index.optimize(adding)

    given = index.centroids()[::-1].copy()  # the same cells in another order: training would not give these
    replica = FaissVectorIndex("random", DIM)
    replica.build(ids, vectors, centroids=given)
    assert replica.optimize(AddingLock(replica, 0, ids[:0], vectors[:0])) and replica.kind == "ivf"
    np.testing.assert_array_equal(replica.centroids(), given)
    assert replica.search(queries, K)[1].tolist() == index.search(queries, K)[1].tolist()


# -- the engine: both indexes of a side in step, filters, persistence ----------------------

TOPICS = ["动力电池热管理", "碳纤维复合材料", "玉米秸秆还田", "质子交换膜燃料电池", "黑土地保护性耕作"]
TWINS = [0, 1, 2, 3, 4]  # positions among the achievements; demand i + 1 copies TWINS[i], one topic each


@pytest.fixture(scope="module")
def encoder():
    return configured_encoder()


@pytest.fixture(scope="module")
def engine_dir(encoder, tmp_path_factory) -> Path:
    """A saved engine: 25,000 achievements (random unit vectors, so IVF cells) and five demands.

    Each demand has the vector and the text of one achievement (its twin), its best match.
    """
    rng = np.random.default_rng(17)
    engine = MatchEngine(encoder)
    ids = ids_for(BIG)
    vectors = unit_vectors(rng, BIG, encoder.dim)
    texts = [f"{TOPICS[i % len(TOPICS)]} 编号{i}" for i in range(BIG)]  # a topic and a word of its own
    engine.add_encoded("achievements", ids, vectors, texts)
    engine.add_encoded("demands", list(range(1, 6)), vectors[TWINS], [texts[i] for i in TWINS])
    assert engine.needs_cells and engine.optimize() and not engine.needs_cells  # what the index worker does
    directory = tmp_path_factory.mktemp("engine")
    engine.save(directory, applied_seq=7)
    assert json.loads((directory / "achievements" / "dense" / "meta.json").read_text())["kind"] == "ivf"
    return directory


def twin_id(demand: int) -> int:
    return int(ids_for(BIG)[TWINS[demand - 1]])


def test_engine_finds_the_twin_of_each_demand(encoder, engine_dir):
    engine = MatchEngine.load(engine_dir, encoder)
    assert (engine.count("achievements"), engine.count("demands"), engine.applied_seq) == (BIG, 5, 7)
    for demand in range(1, 6):
        best = engine.search_like("achievements", "demands", demand, k=K)
        assert best[0].id == twin_id(demand) and best[0].dense_score == pytest.approx(1.0, abs=1e-5)
        assert len(best) == K and best[0].matched_terms


def test_engine_applies_filters_before_the_top_k(encoder, engine_dir):
    """Without the filter the best matches are the twin and its topic's records; none is allowed here."""
    engine = MatchEngine.load(engine_dir, encoder)
    other_topics = ids_for(BIG)[np.arange(BIG) % len(TOPICS) != 0]  # demand 1's twin is topic 0
    for size in (300, 6_000):  # the exact re-scoring path, then the filtered graph search
        allowed = set(np.random.default_rng(size).choice(other_topics, size, replace=False).tolist())
        found = engine.search_like("achievements", "demands", 1, k=K, allowed_ids=allowed)
        assert len(found) == K and {m.id for m in found} <= allowed


def test_engine_remove_and_replace_reach_both_indexes(encoder, engine_dir):
    engine = MatchEngine.load(engine_dir, encoder)
    gone = twin_id(1)
    engine.remove("achievements", gone)
    assert gone not in [m.id for m in engine.search_like("achievements", "demands", 1, k=K)]
    assert engine.count("achievements") == BIG - 1
    rng = np.random.default_rng(19)
    moved = twin_id(2)
    engine.add_encoded("achievements", [moved], unit_vectors(rng, 1, encoder.dim), ["另起炉灶"])
    assert moved not in [m.id for m in engine.search_like("achievements", "demands", 2, k=K)]
    found = engine.search_like("demands", "achievements", moved, k=5)
    assert all(not m.matched_terms for m in found)  # its old words are gone from the lexical index


def test_a_bulk_loaded_lexical_index_updated_record_by_record_scores_as_one_built_record_by_record(tmp_path):
    """BM25Index keeps a bulk load in flat arrays and later records apart: every read must see both."""
    rng = np.random.default_rng(5)
    vocabulary = [f"词{i}" for i in range(300)] + ["vocs", "ti-6al-4v"]
    records = {10_000 + 3 * i: [vocabulary[t] for t in rng.zipf(1.4, 40) % len(vocabulary)] for i in range(400)}
    replaced = {record_id: records[record_id + 3][:20] for record_id in list(records)[:50]}
    removed = list(records)[100:150]
    added = {90_000 + i: [vocabulary[t] for t in rng.integers(0, len(vocabulary), 30)] + ["新词"] for i in range(60)}

    by_record = BM25Index()
    for record_id, tokens in records.items():
        by_record.add(record_id, tokens)
    loaded = BM25Index.from_tokens(list(records), [" ".join(tokens) for tokens in records.values()])
    for index in (by_record, loaded):
        for record_id, tokens in {**replaced, **added}.items():
            index.add(record_id, tokens)
        for record_id in removed:
            index.remove(record_id)
    loaded.save(tmp_path)  # a fifth removed or replaced: the save also purges in memory
    copies = [loaded, BM25Index.from_arrays(by_record.to_arrays()), BM25Index.load(tmp_path)]

    live = sorted(set(records) - set(removed) | set(added))
    queries = [["vocs", "词1", "词2"], ["新词", "词7"], ["ti-6al-4v"], rng.choice(vocabulary, 8).tolist()]
    for index in copies:
        assert index.count == by_record.count == len(live)
        for query in queries:
            expected = by_record.scores_of(by_record.score_all(query), live)
            assert np.allclose(index.scores_of(index.score_all(query), live), expected, rtol=1e-6)
            assert index.search(query, 10)[1].tolist() == by_record.search(query, 10)[1].tolist()
            assert np.allclose(index.rare_term_share(query, live), by_record.rare_term_share(query, live))
        # Scored over given records only (saved searches), the same entries bit for bit; an unknown id scores 0.
        columns = [*live, removed[0]]
        assert np.array_equal(index.score_matrix(queries, columns), [index.scores_of(index.score_all(q), columns) for q in queries])
        for record_id in live[::7]:
            assert sorted(index.terms_of(record_id)) == sorted(by_record.terms_of(record_id))
            assert sorted(index.top_terms(record_id, 100)) == sorted(by_record.terms_of(record_id))  # ties order by term id
        assert index.terms_of(removed[0]) == [] and index.search(["新词"], 100)[1].size == len(added)
