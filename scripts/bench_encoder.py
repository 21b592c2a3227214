"""Encoder speed per backend: bulk abstracts per second, title-query latency, cosine to fp32.

    python scripts/bench_encoder.py [N] [--runs 3] [--threads 1,2] [--queries 100]

N abstracts (default 300) of the shared CSL papers, as the service builds record
texts (title, keywords, abstract), are encoded in batches of 32 by each variant:
torch fp32 and onnx int8 at the service's 256 tokens, and onnx int8 at 128 tokens
(faster, for the loss it costs). Runs are interleaved (every variant once per
round, `--runs` rounds) so a neighbour's load hits all variants alike; figures
are medians. Throughput is measured through `encode_queries`, which does not
remember texts (m3e-small has no prefixes, so it is the document path without
the cache). Query latency: `--queries` titles encoded one at a time, as a search
does. The cosine column compares each variant's vectors with torch fp32's.
"""

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from app.config import Settings  # noqa: E402
from app.matching.encoder import Encoder, load_encoder  # noqa: E402
from app.matching.text import document_text  # noqa: E402

VARIANTS = {"torch fp32": ("torch", 256), "onnx int8": ("onnx-int8", 256), "onnx int8 128 tok": ("onnx-int8", 128)}


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def set_torch_threads(threads: int) -> None:
    """torch's thread count is per process, so it is set before every torch run."""
    import torch

    torch.set_num_threads(threads)


def throughput(encoder: Encoder, backend: str, threads: int, texts: list[str]) -> tuple[float, np.ndarray]:
    if backend == "torch":
        set_torch_threads(threads)
    started = time.perf_counter()
    vectors = encoder.encode_queries(texts)
    return len(texts) / (time.perf_counter() - started), vectors


def latencies(encoder: Encoder, backend: str, threads: int, titles: list[str]) -> list[float]:
    if backend == "torch":
        set_torch_threads(threads)
    encoder.encode_queries(titles[:1])  # first call allocates
    times = []
    for title in titles:
        started = time.perf_counter()
        encoder.encode_queries([title])
        times.append((time.perf_counter() - started) * 1000)
    return times


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("n", nargs="?", type=int, default=300, help="abstracts to encode per run")
    parser.add_argument("--runs", type=int, default=3, help="interleaved rounds; medians are reported")
    parser.add_argument("--threads", default="1,2", help="comma-separated thread counts")
    parser.add_argument("--queries", type=int, default=100, help="titles timed one at a time per round")
    parser.add_argument("--corpus", default=str(REPO.parent / "shared" / "data" / "csl_dev.jsonl"))
    parser.add_argument("--encoder", default=str(Settings().encoder))
    args = parser.parse_args()

    with open(args.corpus, encoding="utf-8") as handle:
        rows = [json.loads(line) for line in handle if line.strip()][: args.n]
    texts = [document_text(r["title"], r["keywords"], r["abstract"]) for r in rows]
    titles = [document_text(r["title"], None, None) for r in rows][: args.queries]
    thread_counts = [int(t) for t in args.threads.split(",")]

    encoders: dict[tuple[str, int], Encoder] = {}
    for variant, (backend, tokens) in VARIANTS.items():
        for threads in thread_counts:
            encoders[variant, threads] = load_encoder(args.encoder, max_seq_length=tokens, threads=threads, backend=backend)
            if backend == "onnx-int8" and "/onnx-int8" not in encoders[variant, threads].name:
                raise SystemExit("no int8 build: run `python models/build_onnx.py` first")

    speeds: dict[tuple[str, int], list[float]] = {key: [] for key in encoders}
    query_ms: dict[tuple[str, int], list[float]] = {key: [] for key in encoders}
    vectors: dict[str, np.ndarray] = {}
    for run in range(args.runs):
        for (variant, threads), encoder in encoders.items():
            backend = VARIANTS[variant][0]
            speed, encoded = throughput(encoder, backend, threads, texts)
            speeds[variant, threads].append(speed)
            vectors.setdefault(variant, encoded)
            query_ms[variant, threads].extend(latencies(encoder, backend, threads, titles))
            log(f"round {run + 1}/{args.runs}: {variant}, {threads} thread(s): {speed:.1f} abstracts/s, "
                f"title p50 {statistics.median(query_ms[variant, threads]):.1f} ms")

    reference = vectors["torch fp32"]
    base = {threads: statistics.median(speeds["torch fp32", threads]) for threads in thread_counts}
    print(f"{len(texts)} abstracts, batch 32, {args.runs} interleaved rounds (medians), {len(titles)} titles per round")
    print(f"{'variant':<18} {'threads':>7} {'abstracts/s':>11} {'x fp32':>7} {'title p50':>10} {'p99':>8} {'cos fp32':>9}")
    for (variant, threads), runs in speeds.items():
        speed = statistics.median(runs)
        p50, p99 = np.percentile(query_ms[variant, threads], [50, 99])
        cosine = float((vectors[variant] * reference).sum(axis=1).mean())
        print(f"{variant:<18} {threads:>7} {speed:>11.1f} {speed / base[threads]:>6.2f}x {p50:>8.1f}ms {p99:>6.1f}ms {cosine:>9.4f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
