"""Latency of whole API requests, with the inline index update a write performs.

    python scripts/bench_requests.py N [--corpus PATH]

Creates N published achievements one request at a time through the HTTP stack (in process,
temporary SQLite database), then times match-by-id and free-text match requests. Create
latency includes encoding the record and adding it to the index right after the commit, the
choice this service makes so a new record is matchable when its creation returns.
"""

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from fastapi.testclient import TestClient  # noqa: E402

from app import migrations  # noqa: E402
from app.accounts import service as accounts  # noqa: E402
from app.config import Settings  # noqa: E402
from app.database import session_scope  # noqa: E402
from app.main import create_app  # noqa: E402


def percentiles(samples: list[float]) -> str:
    ordered = sorted(samples)
    p99 = ordered[min(len(ordered) - 1, int(0.99 * len(ordered)))]
    return f"p50 {statistics.median(ordered):7.1f} ms   p99 {p99:7.1f} ms   (n={len(ordered)})"


def timed(call) -> tuple[float, object]:
    started = time.perf_counter()
    response = call()
    assert response.status_code < 300, response.text
    return (time.perf_counter() - started) * 1000, response


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("n", type=int)
    parser.add_argument("--corpus", default=str(REPO.parent / "shared" / "data" / "csl_dev.jsonl"))
    args = parser.parse_args()
    papers = [json.loads(line) for line in open(args.corpus, encoding="utf-8") if line.strip()]

    with tempfile.TemporaryDirectory() as directory:
        settings = Settings(data_dir=Path(directory))
        migrations.upgrade(settings.resolved_database_url)
        app = create_app(settings)
        with TestClient(app) as client:
            with session_scope(app.state.session_factory) as session:
                _, admin_key = accounts.bootstrap_admin(session, org_name="基准测试")
            admin = {"Authorization": f"Bearer {admin_key}"}
            org = client.post("/api/v1/organizations", json={"name": "吉林大学", "kind": "university"}, headers=admin).json()
            key = client.post(f"/api/v1/organizations/{org['id']}/keys", json={"role": "owner"}, headers=admin).json()["key"]
            owner = {"Authorization": f"Bearer {key}"}

            creates, ids = [], []
            for i in range(args.n):
                paper = papers[i % len(papers)]
                body = {"title": paper["title"][:190] + f" #{i}", "abstract": paper["abstract"],
                        "keywords": [k[:50] for k in paper["keywords"]][:30], "status": "published"}
                elapsed, response = timed(lambda body=body: client.post("/api/v1/achievements", json=body, headers=owner))
                creates.append(elapsed)
                ids.append(response.json()["id"])
                if (i + 1) % 50 == 0:
                    print(f"  created {i + 1}/{args.n}", file=sys.stderr, flush=True)
            print(f"create + inline index update   {percentiles(creates)}")

            demand = {"title": papers[0]["title"], "description": papers[0]["abstract"], "status": "published"}
            demand_id = client.post("/api/v1/demands", json=demand, headers=owner).json()["id"]
            by_id = [timed(lambda: client.get(f"/api/v1/demands/{demand_id}/matches", headers=owner))[0] for _ in range(100)]
            print(f"GET  /demands/{{id}}/matches    {percentiles(by_id)}")
            texts = [papers[i % len(papers)]["title"] for i in range(100)]
            free = [
                timed(lambda t=t: client.post("/api/v1/match", json={"text": t, "target": "achievements"}, headers=owner))[0]
                for t in texts
            ]
            print(f"POST /match (free text)        {percentiles(free)}")
            print(f"health: {client.get('/api/v1/health').json()['index']}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
