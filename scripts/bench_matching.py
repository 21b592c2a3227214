"""Speed and memory of the matching engine with N indexed achievements.

    python scripts/bench_matching.py N [--sample 1000] [--queries 200]

Documents are the shared paper abstracts, cycled with shuffled sentences and a
serial number so that no two texts are identical. Encoding N documents on CPU
would take hours, so only `--sample` real documents are encoded (this gives
the throughput figure); the remaining vectors are synthesised by adding small
random noise to real ones. All texts are still tokenised and BM25-indexed.
"""

import argparse
import json
import os
import random
import re
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from app.matching.encoder import load_encoder  # noqa: E402
from app.matching.engine import MatchEngine  # noqa: E402
from app.matching.text import document_text  # noqa: E402

SIDE = "achievements"
SENTENCE_END = re.compile(r"(?<=[。；;.!?！？])")


def rss_mb() -> float:
    with open("/proc/self/status", encoding="ascii") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return float("nan")


def synthetic_texts(rows: list[dict], n: int) -> list[str]:
    rng = random.Random(0)
    texts = []
    for i in range(n):
        row = rows[i % len(rows)]
        sentences = [s for s in SENTENCE_END.split(row["abstract"]) if s]
        if i >= len(rows):
            rng.shuffle(sentences)
        texts.append(document_text(row["title"], row["keywords"], "".join(sentences) + f" 编号{i}"))
    return texts


def synthetic_vectors(real: np.ndarray, n: int, noise: float = 0.02) -> np.ndarray:
    """Real vectors first, then noisy copies of them (cosine to the source about 0.9)."""
    rng = np.random.default_rng(0)
    extra = real[np.arange(len(real), n) % len(real)] + rng.normal(0, noise, (n - len(real), real.shape[1]))
    vectors = np.concatenate([real, extra.astype(np.float32)])
    return vectors / np.linalg.norm(vectors, axis=1, keepdims=True)


def latency(fn, inputs) -> str:
    times = []
    for item in inputs:
        started = time.perf_counter()
        fn(item)
        times.append(time.perf_counter() - started)
    p50, p99 = np.percentile(times, [50, 99]) * 1000
    return f"p50 {p50:6.2f} ms   p99 {p99:6.2f} ms   (n={len(times)})"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("n", type=int)
    parser.add_argument("--sample", type=int, default=1000, help="documents really encoded")
    parser.add_argument("--queries", type=int, default=200)
    parser.add_argument("--corpus", default=str(REPO.parent / "shared" / "data" / "csl_dev.jsonl"))
    parser.add_argument("--encoder", default=os.environ.get("TECHMATCH_ENCODER", str(REPO / "models" / "m3e-small")))
    args = parser.parse_args()

    with open(args.corpus, encoding="utf-8") as handle:
        rows = [json.loads(line) for line in handle if line.strip()]
    started = time.perf_counter()
    encoder = load_encoder(args.encoder)
    print(f"encoder {encoder.name} (dim {encoder.dim}) loaded in {time.perf_counter() - started:.2f} s")
    texts = synthetic_texts(rows, args.n)
    sample = min(args.sample, args.n)

    started = time.perf_counter()
    real = encoder.encode_documents(texts[:sample])
    elapsed = time.perf_counter() - started
    print(f"encode: {sample} real documents in {elapsed:.1f} s = {sample / elapsed:.1f} docs/s "
          f"(full corpus would take {args.n / (sample / elapsed) / 60:.1f} min)")
    vectors = synthetic_vectors(real, args.n)
    print(f"vectors: {sample} encoded + {args.n - sample} synthesised (noisy copies of encoded ones)")

    engine = MatchEngine(encoder)
    rss_before = rss_mb()
    started = time.perf_counter()
    for start in range(0, args.n, 5000):
        engine.add_encoded(SIDE, list(range(start, min(start + 5000, args.n))), vectors[start:start + 5000],
                           texts[start:start + 5000])
    build = time.perf_counter() - started
    started = time.perf_counter()
    engine.optimize()  # the IVF cells a large side gets from the index worker's thread
    cells = time.perf_counter() - started
    index = engine._side(SIDE).vectors
    print(f"index build (tokenise + BM25 + faiss): {build:.1f} s for {args.n} docs ({args.n / build:.0f} docs/s); "
          f"then faiss {index.kind} by optimize: {cells:.1f} s")
    print(f"RSS: {rss_mb():.0f} MB (indexes add about {rss_mb() - rss_before:.0f} MB)")

    rng = random.Random(1)
    ids = [rng.randrange(args.n) for _ in range(args.queries)]
    queries = [rows[rng.randrange(len(rows))]["title"] for _ in range(args.queries)]
    print(f"match-by-id, dense only    {latency(lambda i: index.search(index.vector(i), 10), ids)}")
    print(f"match-by-id, hybrid        {latency(lambda i: engine.search_like(SIDE, SIDE, i, k=10), ids)}")
    print(f"free-text, hybrid (+encode) {latency(lambda q: engine.search_text(SIDE, q, k=10), queries)}")
    allowed = rng.sample(range(args.n), min(args.n, 2000))
    filtered = latency(lambda q: engine.search_text(SIDE, q, k=10, allowed_ids=allowed), queries[:50])
    print(f"free-text, 2000 allowed ids {filtered}")

    with tempfile.TemporaryDirectory() as directory:
        started = time.perf_counter()
        engine.save(directory, applied_seq=args.n)
        print(f"save: {time.perf_counter() - started:.2f} s")
        started = time.perf_counter()
        loaded = MatchEngine.load(directory, encoder)
        print(f"load (restart, encoder already loaded): {time.perf_counter() - started:.2f} s, "
              f"{loaded.count(SIDE)} docs, applied_seq {loaded.applied_seq}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
