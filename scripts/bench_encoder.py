"""Encoder speed per backend: bulk abstracts per second, title-query latency, cosine to fp32.

    python scripts/bench_encoder.py [N] [--runs 3] [--threads 1,2] [--queries 100]
                                    [--variants torch:256:32,onnx-int8:256:8,onnx-int8:128:8]

N abstracts (default 300) of the shared CSL papers, as the service builds record
texts (title, keywords, abstract), are encoded by each variant, given as
backend:tokens:batch (token limit per text, texts per forward pass), at each
thread count. Runs are interleaved (every variant once per round, `--runs`
rounds) so a neighbour's load hits all variants alike; figures are medians.
Throughput is measured through `encode_uncached` (the document path without the
encoder's memory of recent texts). Query latency: `--queries` titles encoded one
at a time the same way (with the document prefix; m3e-small has none), as a search of
a new text is. The cosine
column compares each variant's vectors with the first variant's (torch fp32 at
256 tokens by default, the reference the int8 copy is gated against).
"""

import argparse
import json
import statistics
import sys
import time
from pathlib import Path
from typing import NamedTuple, cast, get_args

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from app.config import Settings  # noqa: E402
from app.matching.encoder import Backend, OnnxEncoder, SentenceTransformerEncoder, load_encoder  # noqa: E402
from app.matching.text import document_text  # noqa: E402

DEFAULT_VARIANTS = "torch:256:32,onnx-int8:256:8,onnx-int8:128:8"
"""fp32 as sentence-transformers runs it, the default int8 encoder, and int8 at 128 tokens."""


Measured = SentenceTransformerEncoder | OnnxEncoder
"""The two encoders, which can encode without their memory of recent texts (`encode_uncached`)."""


class Variant(NamedTuple):
    backend: Backend
    tokens: int
    batch: int

    @property
    def label(self) -> str:
        return f"{self.backend}:{self.tokens}:{self.batch}"


def parse_variant(spec: str) -> Variant:
    backend, tokens, batch = spec.split(":")
    if backend not in get_args(Backend):
        raise SystemExit(f"unknown backend {backend!r} in {spec!r}: one of {', '.join(get_args(Backend))}")
    return Variant(cast(Backend, backend), int(tokens), int(batch))


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def set_torch_threads(threads: int) -> None:
    """torch's thread count is per process, so it is set before every torch run."""
    import torch

    torch.set_num_threads(threads)


def throughput(encoder: Measured, backend: str, threads: int, texts: list[str]) -> tuple[float, np.ndarray]:
    if backend == "torch":
        set_torch_threads(threads)
    started = time.perf_counter()
    vectors = encoder.encode_uncached(texts)
    return len(texts) / (time.perf_counter() - started), vectors


def latencies(encoder: Measured, backend: str, threads: int, titles: list[str]) -> list[float]:
    if backend == "torch":
        set_torch_threads(threads)
    encoder.encode_uncached(titles[:1])  # first call allocates
    times = []
    for title in titles:
        started = time.perf_counter()
        encoder.encode_uncached([title])
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
    parser.add_argument("--variants", default=DEFAULT_VARIANTS, help="comma-separated backend:tokens:batch")
    args = parser.parse_args()

    with open(args.corpus, encoding="utf-8") as handle:
        rows = [json.loads(line) for line in handle if line.strip()][: args.n]
    texts = [document_text(r["title"], r["keywords"], r["abstract"]) for r in rows]
    titles = [document_text(r["title"], None, None) for r in rows][: args.queries]
    thread_counts = [int(t) for t in args.threads.split(",")]
    variants = [parse_variant(spec) for spec in args.variants.split(",")]

    encoders: dict[tuple[Variant, int], Measured] = {}
    for variant in variants:
        for threads in thread_counts:
            encoder = load_encoder(args.encoder, max_seq_length=variant.tokens, threads=threads, backend=variant.backend,
                                   batch_size=variant.batch)
            if variant.backend == "onnx-int8" and not isinstance(encoder, OnnxEncoder):
                raise SystemExit("no int8 build: run `python models/build_onnx.py` first")
            assert isinstance(encoder, Measured)
            encoders[variant, threads] = encoder

    speeds: dict[tuple[Variant, int], list[float]] = {key: [] for key in encoders}
    query_ms: dict[tuple[Variant, int], list[float]] = {key: [] for key in encoders}
    vectors: dict[Variant, np.ndarray] = {}
    for run in range(args.runs):
        for (variant, threads), encoder in encoders.items():
            speed, encoded = throughput(encoder, variant.backend, threads, texts)
            speeds[variant, threads].append(speed)
            vectors.setdefault(variant, encoded)
            query_ms[variant, threads].extend(latencies(encoder, variant.backend, threads, titles))
            log(f"round {run + 1}/{args.runs}: {variant.label}, {threads} thread(s): {speed:.1f} abstracts/s, "
                f"title p50 {statistics.median(query_ms[variant, threads]):.1f} ms")

    first = variants[0]
    base = {threads: statistics.median(speeds[first, threads]) for threads in thread_counts}
    print(f"{len(texts)} abstracts, {args.runs} interleaved rounds (medians), {len(titles)} titles per round; "
          f"speed and cosine relative to {first.label}")
    print(f"{'backend:tokens:batch':<22} {'threads':>7} {'abstracts/s':>11} {'x first':>7} {'title p50':>10} {'p99':>8} {'cosine':>7}")
    for (variant, threads), runs in speeds.items():
        speed = statistics.median(runs)
        p50, p99 = np.percentile(query_ms[variant, threads], [50, 99])
        cosine = float((vectors[variant] * vectors[first]).sum(axis=1).mean())
        print(f"{variant.label:<22} {threads:>7} {speed:>11.1f} {speed / base[threads]:>6.2f}x {p50:>8.1f}ms {p99:>6.1f}ms "
              f"{cosine:>7.4f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
