"""Mixed load on a real service: matches and writes from concurrent clients, level after level.

    python scripts/bench_load.py [--database sqlite|postgresql] [--records N] [--concurrency 1,4,16,64]
                                 [--seconds S] [--writes F] [--postgres-url URL] [--random-seed R]

--database      `sqlite` (a fresh file in a temporary folder; the default) or `postgresql` (a fresh
                database created on the server of --postgres-url and dropped afterwards)
--records       published records to seed (default 2000), half achievements with the texts of
                ../shared/data/csl_dev.jsonl, half demands with those of demands_dev.jsonl (the data
                folder next to the repository); texts are reused, with a numbered title, when N exceeds them
--concurrency   client counts, comma-separated; one run per level (default 1,4,16,64)
--seconds       how long each level runs (default 20)
--writes        share of requests that write (default 0.2): half PATCH the title of a seeded record, half
                create a published record. The others are matches, a third each GET /demands/{id}/matches,
                GET /achievements/{id}/matches and POST /match with a demand's text
--postgres-url  the server for --database postgresql (default $TECHMATCH_TEST_POSTGRES_URL, else the local
                server as user postgres, as the tests use)
--random-seed   seed of the clients' choices (default 1), so two runs send the same requests

The service is `techmatch serve` in a child process (real sockets, real worker threads, its log in the
data folder). Records are seeded through the API by one client, with a progress bar; before each level
the script waits until the matching index has caught up (GET /health: pending 0). Every client loops
until the level's time is up (and at most --max-requests requests), each request with a 60 s timeout.
Printed per level: requests, req/s, p50, p99 and max latency, and the count of every non-2xx status
(a request that got no answer counts under its exception's name); then p50/p99 per kind of request.
"""

import argparse
import itertools
import json
import os
import random
import re
import statistics
import sys
import tempfile
import threading
import time
from collections import Counter, defaultdict
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(REPO), str(REPO / "tests")]

import httpx2 as httpx  # noqa: E402
from live_service import LiveService, admin_headers, postgres_database  # noqa: E402
from tqdm import tqdm  # noqa: E402

from app import migrations  # noqa: E402

DATA = REPO.parent / "shared" / "data"
DEFAULT_POSTGRES = os.environ.get("TECHMATCH_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
KINDS = ("GET /demands/{id}/matches", "GET /achievements/{id}/matches", "POST /match", "PATCH title", "POST create")


class Texts:
    """Request bodies built from the corpus, cycled with a numbered title once every text is used."""

    def __init__(self, data: Path):
        read = lambda name: [json.loads(line) for line in open(data / name, encoding="utf-8") if line.strip()]  # noqa: E731
        self.papers, self.demands = read("csl_dev.jsonl"), read("demands_dev.jsonl")

    def body(self, side: str, n: int) -> dict:
        source = self.papers if side == "achievements" else self.demands
        item = source[n % len(source)]
        title = item["title"][:180] + (f" #{n // len(source)}" if n >= len(source) else "")
        if side == "achievements":
            keywords = [k[:50] for k in item["keywords"]][:30]
            return {"title": title, "abstract": item["abstract"], "keywords": keywords, "status": "published"}
        return {"title": title, "description": item["description"], "status": "published"}

    def query(self, rng: random.Random) -> str:
        item = rng.choice(self.demands)
        return f"{item['title']} {item['description'][:120]}"


class Workload:
    """What one client does: pick a kind of request by the mix, send it, time it."""

    def __init__(self, url: str, owners: dict, ids: dict, texts: Texts, writes: float):
        self.url, self.owners, self.ids, self.texts = url, owners, ids, texts
        self.weights = [(1 - writes) / 3] * 3 + [writes / 2] * 2
        self.created = itertools.count(10**6)  # numbers of created records' texts, past every seeded one
        self.lock = threading.Lock()

    def one(self, client: httpx.Client, rng: random.Random) -> tuple[str, str, float]:
        """(kind, status or exception name, seconds) of one request."""
        kind = rng.choices(KINDS, self.weights)[0]
        side = rng.choice(("demands", "achievements"))
        started = time.perf_counter()
        try:
            if kind == "GET /demands/{id}/matches":
                response = client.get(f"/demands/{rng.choice(self.ids['demands'])}/matches", headers=self.owners["demands"])
            elif kind == "GET /achievements/{id}/matches":
                response = client.get(f"/achievements/{rng.choice(self.ids['achievements'])}/matches", headers=self.owners["achievements"])
            elif kind == "POST /match":
                body = {"text": self.texts.query(rng), "target": "achievements"}
                response = client.post("/match", json=body, headers=self.owners["demands"])
            elif kind == "PATCH title":
                body = {"title": f"修订后的标题 {rng.randrange(10**9)}"}
                response = client.patch(f"/{side}/{rng.choice(self.ids[side])}", json=body, headers=self.owners[side])
            else:
                with self.lock:
                    number = next(self.created)
                response = client.post(f"/{side}", json=self.texts.body(side, number), headers=self.owners[side])
            outcome = str(response.status_code)
        except httpx.HTTPError as error:
            outcome = type(error).__name__
        return kind, outcome, time.perf_counter() - started


def run_level(workload: Workload, clients: int, seconds: float, max_requests: int, seed: int) -> list[tuple[str, str, float]]:
    """Every client loops until `seconds` are up or it sent `max_requests`; all samples of the level."""
    samples: list[tuple[str, str, float]] = []
    lock = threading.Lock()
    barrier = threading.Barrier(clients)

    def client_loop(number: int) -> None:
        rng = random.Random(seed * 1000 + number)
        mine = []
        with httpx.Client(base_url=workload.url, timeout=60) as client:
            barrier.wait()
            deadline = time.monotonic() + seconds
            while time.monotonic() < deadline and len(mine) < max_requests:
                mine.append(workload.one(client, rng))
        with lock:
            samples.extend(mine)

    threads = [threading.Thread(target=client_loop, args=(n,)) for n in range(clients)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return samples


def percentile(ordered: list[float], share: float) -> float:
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))]


def report(clients: int, samples: list[tuple[str, str, float]], elapsed: float) -> None:
    latencies = sorted(s[2] for s in samples)
    failures = Counter(outcome for _, outcome, _ in samples if not outcome.startswith("2"))
    failed = ", ".join(f"{outcome}×{count}" for outcome, count in sorted(failures.items())) or "none"
    print(
        f"{clients:>3} clients  {len(samples):>6} requests  {len(samples) / elapsed:7.1f} req/s  "
        f"p50 {statistics.median(latencies):6.3f} s  p99 {percentile(latencies, 0.99):6.3f} s  "
        f"max {latencies[-1]:6.3f} s  non-2xx: {failed}",
        flush=True,
    )
    by_kind = defaultdict(list)
    for kind, _, seconds in samples:
        by_kind[kind].append(seconds)
    for kind in KINDS:
        if by_kind[kind]:
            ordered = sorted(by_kind[kind])
            print(f"      {kind:<32} {len(ordered):>6}  p50 {statistics.median(ordered):6.3f} s  p99 {percentile(ordered, 0.99):6.3f} s")


def seed(service: LiveService, admin: dict, texts: Texts, records: int) -> tuple[dict, dict]:
    """Two owner organizations and `records` published records; returns (owner headers, ids) per side."""
    owners, ids = {}, {"achievements": [], "demands": []}
    with httpx.Client(base_url=service.url, timeout=120) as client:
        for side, name, kind in (("achievements", "吉林大学", "university"), ("demands", "长春某汽车零部件有限公司", "enterprise")):
            org = client.post("/organizations", json={"name": name, "kind": kind, "region": "220102"}, headers=admin)
            org.raise_for_status()
            key = client.post(f"/organizations/{org.json()['id']}/keys", json={"role": "owner"}, headers=admin)
            key.raise_for_status()
            owners[side] = {"Authorization": f"Bearer {key.json()['key']}"}
        for n in tqdm(range(records), desc="seeding", unit="record", file=sys.stderr):
            side = ("achievements", "demands")[n % 2]
            response = client.post(f"/{side}", json=texts.body(side, n // 2), headers=owners[side])
            if response.status_code != 201:
                raise RuntimeError(f"seeding {side} failed: {response.status_code} {response.text}")
            ids[side].append(response.json()["id"])
    return owners, ids


@contextmanager
def database(kind: str, folder: Path, postgres_url: str) -> Iterator[str]:
    """A fresh, migrated database of `kind`; a PostgreSQL one is dropped afterwards."""
    if kind == "sqlite":
        url = f"sqlite:///{folder / 'techmatch.db'}"
        migrations.upgrade(url)
        yield url
        return
    with postgres_database(postgres_url) as url:
        migrations.upgrade(url)
        yield url


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database", choices=["sqlite", "postgresql"], default="sqlite")
    parser.add_argument("--records", type=int, default=2000)
    parser.add_argument("--concurrency", default="1,4,16,64")
    parser.add_argument("--seconds", type=float, default=20)
    parser.add_argument("--writes", type=float, default=0.2)
    parser.add_argument("--max-requests", type=int, default=100_000, help="per client and level")
    parser.add_argument("--postgres-url", default=DEFAULT_POSTGRES)
    parser.add_argument("--random-seed", type=int, default=1)
    args = parser.parse_args()
    try:
        levels = [int(level) for level in args.concurrency.split(",")]
    except ValueError:
        parser.error(f"--concurrency must be comma-separated integers, not {args.concurrency!r}")
    if args.records < 2 or not 0 <= args.writes <= 1 or min(levels) < 1 or args.seconds <= 0:
        parser.error("need --records ≥ 2, 0 ≤ --writes ≤ 1, every concurrency ≥ 1 and --seconds > 0")
    texts = Texts(DATA)

    with tempfile.TemporaryDirectory() as folder, database(args.database, Path(folder), args.postgres_url) as url:
        env = {"TECHMATCH_DATABASE_URL": url, "TECHMATCH_DATA_DIR": str(Path(folder) / "data")}
        with LiveService(env) as service:
            owners, ids = seed(service, admin_headers(url), texts, args.records)
            workload = Workload(service.url, owners, ids, texts, args.writes)
            print(f"{args.database}, {args.records} records, {args.writes:.0%} writes, {args.seconds:g} s per level", flush=True)
            for clients in levels:
                service.wait_indexed()
                started = time.monotonic()
                samples = run_level(workload, clients, args.seconds, args.max_requests, args.random_seed)
                report(clients, samples, time.monotonic() - started)
            # The log goes with the temporary folder: show the exceptions that ended tracebacks before it does.
            log = service.log_path.read_text(errors="replace").splitlines()
            for line, count in Counter(line for line in log if re.match(r"[\w.]+(Error|Exception): ", line)).items():
                print(f"service log, {count}×: {line[:300]}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
