"""The index survives crashes and refuses an encoder it was not built with.

These tests run the real service in a child process and kill it with SIGKILL, so nothing
gets a chance to save on the way out.
"""

import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx2 as httpx
import pytest
from conftest import issue_admin_key, new_database
from payloads import achievement

from app import migrations
from app.config import Settings
from app.database import make_engine, make_session_factory
from app.matching.keeper import IndexKeeper
from app.matching.vector_index import IndexMismatchError

pytestmark = pytest.mark.slow
BIN = Path(sys.executable).parent


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Service:
    """`techmatch serve` in a child process; its index worker never saves on its own."""

    def __init__(self, env: dict):
        self.port = free_port()
        self.env = {**env, "TECHMATCH_PORT": str(self.port), "TECHMATCH_INDEX_WORKER_SECONDS": "3600"}
        self.process = subprocess.Popen([BIN / "techmatch", "serve"], env=self.env, stderr=subprocess.PIPE, text=True)
        self.url = f"http://127.0.0.1:{self.port}/api/v1"
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            try:
                httpx.get(f"{self.url}/health", timeout=1)
                return
            except httpx.TransportError:
                if self.process.poll() is not None:
                    raise RuntimeError(self.process.stderr.read())
                time.sleep(0.2)
        raise RuntimeError("service did not start")

    def stop(self, sig=signal.SIGTERM) -> None:
        self.process.send_signal(sig)
        self.process.wait(timeout=60)


@pytest.fixture(params=["sqlite", "postgresql"])
def environment(request, tmp_path):
    with new_database(request.param, tmp_path) as url:
        migrations.upgrade(url)
        yield {**os.environ, "TECHMATCH_DATABASE_URL": url, "TECHMATCH_DATA_DIR": str(tmp_path / "data")}


def _owner_key(service: Service, admin: dict) -> dict:
    org = httpx.post(f"{service.url}/organizations", json={"name": "吉林大学", "kind": "university"}, headers=admin).json()
    key = httpx.post(f"{service.url}/organizations/{org['id']}/keys", json={"role": "owner"}, headers=admin).json()["key"]
    return {"Authorization": f"Bearer {key}"}


def _ranked_ids(service: Service, headers: dict, text: str) -> list[int]:
    body = {"text": text, "target": "achievements", "k": 10}
    return [item["id"] for item in httpx.post(f"{service.url}/match", json=body, headers=headers, timeout=30).json()["items"]]


def test_kill_between_commit_and_save_then_recover(environment):
    settings = Settings(database_url=environment["TECHMATCH_DATABASE_URL"])
    from app.main import create_app  # only for its app.state.session_factory

    admin = {"Authorization": f"Bearer {issue_admin_key(create_app(settings))}"}
    first = Service(environment)
    owner = _owner_key(first, admin)
    kept = httpx.post(f"{first.url}/achievements", json=achievement(status="published"), headers=owner, timeout=30).json()
    first.stop()  # graceful: the index is saved with this record

    second = Service(environment)
    new = httpx.post(
        f"{second.url}/achievements",
        json=achievement(title="寒地玉米秸秆快速腐解菌剂", abstract="筛选耐低温秸秆降解菌群，低温下秸秆腐解率提高百分之三十。", status="published"),
        headers=owner,
        timeout=30,
    ).json()
    httpx.post(f"{second.url}/achievements/{kept['id']}/withdraw", headers=owner, timeout=30)
    assert _ranked_ids(second, owner, "秸秆腐解") [0] == new["id"]
    second.stop(signal.SIGKILL)  # committed, applied in memory, never saved

    third = Service(environment)
    try:
        deadline = time.monotonic() + 60
        while (health := httpx.get(f"{third.url}/health").json())["index"]["achievements"]["pending"]:
            assert time.monotonic() < deadline, health
            time.sleep(0.2)
        assert health["index"]["achievements"]["indexed"] == 1
        assert _ranked_ids(third, owner, "秸秆腐解 低温热管理") == [new["id"]]
    finally:
        third.stop()


def test_index_from_another_encoder_is_refused(environment, tmp_path):
    settings = Settings(database_url=environment["TECHMATCH_DATABASE_URL"], data_dir=Path(environment["TECHMATCH_DATA_DIR"]))
    factory = make_session_factory(make_engine(settings.resolved_database_url))
    IndexKeeper.open(settings, factory).save()
    meta_file = next(settings.index_dir.rglob("meta.json"))
    meta = json.loads(meta_file.read_text())
    meta_file.write_text(json.dumps({**meta, "encoder": "bge-small-zh-v1.5", "dim": 384}))
    with pytest.raises(IndexMismatchError, match=r"bge-small-zh-v1.5.*384.*techmatch reindex"):
        IndexKeeper.open(settings, factory)
    refused = subprocess.run([BIN / "techmatch", "serve"], env=environment, capture_output=True, text=True, timeout=120)
    assert refused.returncode != 0 and "techmatch reindex" in refused.stderr

    rebuilt = subprocess.run([BIN / "techmatch", "reindex"], env=environment, capture_output=True, text=True, timeout=300)
    assert rebuilt.returncode == 0, rebuilt.stderr
    assert "indexed 0 published records" in rebuilt.stderr
    IndexKeeper.open(settings, factory)
