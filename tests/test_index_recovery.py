"""The index survives crashes, saves during long catch-ups, stops promptly, and refuses an
encoder it was not built with.

These tests run the real service in a child process and kill it with SIGKILL, so nothing
gets a chance to save on the way out.
"""

import json
import os
import shutil
import signal
import subprocess
import time
from pathlib import Path

import httpx2 as httpx
import pytest
from conftest import issue_admin_key, new_database
from live_service import BIN, LiveService, owner_headers
from payloads import achievement

from app import migrations
from app.achievements.models import Achievement
from app.achievements.schemas import AchievementCreate
from app.auth import Principal
from app.changelog import last_seq
from app.config import Settings
from app.database import make_engine, make_session_factory, session_scope
from app.listings import service as listings
from app.matching.engine import MatchEngine
from app.matching.keeper import IndexKeeper
from app.matching.vector_index import IndexMismatchError
from app.organizations import service as organizations
from app.organizations.schemas import OrganizationCreate

pytestmark = pytest.mark.slow


def Service(environment: dict) -> LiveService:
    """`techmatch serve` in a child process whose index worker never saves on its own."""
    return LiveService({**environment, "TECHMATCH_INDEX_WORKER_SECONDS": "3600"})


@pytest.fixture(params=["sqlite", "postgresql"])
def environment(request, tmp_path):
    with new_database(request.param, tmp_path) as url:
        migrations.upgrade(url)
        yield {**os.environ, "TECHMATCH_DATABASE_URL": url, "TECHMATCH_DATA_DIR": str(tmp_path / "data")}


def _ranked_ids(service: Service, headers: dict, text: str) -> list[int]:
    """What the index holds for `text`, weak matches included (this is about recovery, not relevance)."""
    body = {"text": text, "target": "achievements", "k": 10, "include_weak": True}
    return [item["id"] for item in httpx.post(f"{service.url}/match", json=body, headers=headers, timeout=30).json()["items"]]


def test_kill_between_commit_and_save_then_recover(environment):
    settings = Settings(database_url=environment["TECHMATCH_DATABASE_URL"])
    from app.main import create_app  # only for its app.state.session_factory

    admin = {"Authorization": f"Bearer {issue_admin_key(create_app(settings))}"}
    first = Service(environment)
    owner = owner_headers(first, admin)
    kept = httpx.post(f"{first.url}/achievements", json=achievement(status="published"), headers=owner, timeout=30).json()
    first.stop()  # graceful: the index is saved with this record

    second = Service(environment)
    new = httpx.post(
        f"{second.url}/achievements",
        json=achievement(
            title="寒地玉米秸秆快速腐解菌剂", abstract="筛选耐低温秸秆降解菌群，低温下秸秆腐解率提高百分之三十。", status="published"
        ),
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


def test_index_from_another_encoder_is_rebuilt_from_stored_vectors(environment, tmp_path):
    """A saved index of another encoder is never queried: the start builds from this encoder's stored rows."""
    settings = Settings(database_url=environment["TECHMATCH_DATABASE_URL"], data_dir=Path(environment["TECHMATCH_DATA_DIR"]))
    factory = make_session_factory(make_engine(settings.resolved_database_url))
    _publish_backlog(settings.resolved_database_url, records=2)
    keeper = IndexKeeper.open(settings, factory)
    keeper.catch_up()
    keeper.save()
    meta_file = next(settings.index_dir.rglob("meta.json"))
    meta = json.loads(meta_file.read_text())
    meta_file.write_text(json.dumps({**meta, "encoder": "bge-small-zh-v1.5", "dim": 384}))
    with pytest.raises(IndexMismatchError, match=r"bge-small-zh-v1.5.*384.*techmatch reindex"):
        MatchEngine.load(settings.index_dir, keeper.engine.encoder)
    reopened = IndexKeeper.open(settings, factory)
    assert reopened.engine.count("achievements") == 2 and reopened.encoded == 0

    rebuilt = subprocess.run([BIN / "techmatch", "reindex"], env=environment, capture_output=True, text=True, timeout=300)
    assert rebuilt.returncode == 0, rebuilt.stderr
    assert "encoded 0 of 2 published records" in rebuilt.stderr and "indexed 2 published records" in rebuilt.stderr
    forced = subprocess.run([BIN / "techmatch", "reindex", "--force"], env=environment, capture_output=True, text=True, timeout=300)
    assert "encoded 2 of 2 published records" in forced.stderr, forced.stderr
    assert IndexKeeper.open(settings, factory).applied_seq == _saved_seq(settings.index_dir)


def _saved_seq(index_dir: Path) -> int:
    """The change-log position of the index saved on disk (0 when there is none yet)."""
    metas = list(index_dir.rglob("meta.json"))
    return min(json.loads(meta.read_text())["applied_seq"] for meta in metas) if metas else 0


def _publish_backlog(url: str, records: int, published_every: int = 1) -> int:
    """Create `records` achievements through the service layer, with no index keeper running, so
    the next service start finds a backlog to catch up; returns its length (the last seq).

    Every `published_every`-th record is published (two changes: create, publish; encoded when
    applied), the others stay drafts (one change each; applying it costs no encoding): a backlog of
    thousands of changes that every batch has to work on, without encoding thousands of texts.
    """
    factory = make_session_factory(make_engine(url))
    changes = 0
    with session_scope(factory) as session:
        org = organizations.create(session, data=OrganizationCreate(name="吉林大学", kind="university"))
        actor = Principal(key_id=None, org_id=org.id, role="owner")
        for number in range(records):
            status = "published" if number % published_every == 0 else "draft"
            body = achievement(title=f"寒地秸秆腐解菌剂第{number}号", abstract=f"第{number}批耐低温菌群筛选。", status=status)
            listings.create(session, model=Achievement, data=AchievementCreate(**body), actor=actor)
            changes += 2 if status == "published" else 1
    factory.kw["bind"].dispose()
    return changes


def _last_seq(url: str) -> int:
    """The change log's last position (encoding processes append to it as they store vectors)."""
    engine = make_engine(url)
    try:
        with session_scope(make_session_factory(engine), read_only=True) as session:
            return last_seq(session)
    finally:
        engine.dispose()


@pytest.mark.slow
def test_long_catch_up_saves_part_way_survives_leftovers_and_stops_on_sigterm(environment):
    index_dir = Path(environment["TECHMATCH_DATA_DIR"]) / "index"
    url = environment["TECHMATCH_DATABASE_URL"]
    total = _publish_backlog(url, records=3000, published_every=6)  # 3,500 changes, 500 to encode
    environment = {**environment, "TECHMATCH_INDEX_SAVE_EVERY": "256"}

    first = Service(environment)
    deadline = time.monotonic() + 120
    while not _saved_seq(index_dir):
        assert time.monotonic() < deadline, first.log()
        time.sleep(0.1)
    first.stop(signal.SIGKILL)
    resume = _saved_seq(index_dir)
    assert 256 <= resume < total, resume  # saved during the catch-up, which was still running

    # What a kill in the middle of a save leaves (see recover_interrupted_save): an undeleted
    # index.old and a half-written index.new. The complete `index` must win, and saves go on.
    shutil.copytree(index_dir, index_dir.with_name("index.old"))
    shutil.copytree(index_dir, index_dir.with_name("index.new"))
    (index_dir.with_name("index.new") / "terms.json").unlink()

    second = Service(environment)
    assert f"index at change {resume} " in second.log()
    deadline = time.monotonic() + 120
    while (applied := httpx.get(f"{second.url}/health", timeout=30).json()["applied_seq"]) < resume + 128:  # a batch applied
        assert time.monotonic() < deadline, second.log()
        time.sleep(0.1)
    pending = second.pending()
    seconds = second.stop()
    print(f"SIGTERM with {pending} changes pending: exited in {seconds:.1f}s; resumed at {resume} of {total}")
    assert seconds < 10, second.log()
    saved = _saved_seq(index_dir)
    assert applied <= saved < _last_seq(url)  # what it applied was saved; the backlog was left
    assert not index_dir.with_name("index.old").exists() and not index_dir.with_name("index.new").exists()

    third = Service(environment)
    try:
        assert f"index at change {saved} " in third.log()
        deadline = time.monotonic() + 300
        while third.pending():
            assert time.monotonic() < deadline, third.log()
            time.sleep(0.5)
        health = httpx.get(f"{third.url}/health").json()
        assert health["index"]["achievements"]["indexed"] == 500
    finally:
        third.stop()
    assert _saved_seq(index_dir) == _last_seq(url)


@pytest.fixture
def staged_indexes(tmp_path):
    """Two complete saved indexes of one SQLite database, at different change-log positions."""
    settings = Settings(database_url=f"sqlite:///{tmp_path / 'crash.db'}", data_dir=tmp_path / "data")
    migrations.upgrade(settings.resolved_database_url)
    _publish_backlog(settings.resolved_database_url, records=3)
    factory = make_session_factory(make_engine(settings.resolved_database_url))
    keeper = IndexKeeper.open(settings, factory)
    keeper.catch_up(limit=2)
    keeper.save()
    older = shutil.copytree(settings.index_dir, tmp_path / "older")
    keeper.catch_up()
    keeper.save()
    newer = shutil.copytree(settings.index_dir, tmp_path / "newer")
    shutil.rmtree(settings.index_dir)
    return settings, factory, {"older": older, "newer": newer}


# Each crash point of IndexKeeper.save, as the folders it leaves, and the index a restart must use.
@pytest.mark.parametrize(
    "leftovers, kept",
    [
        ({"index": "newer", "index.old": "older"}, "newer"),  # killed before deleting index.old
        ({"index.old": "older", "index.new": "newer"}, "newer"),  # killed between the two renames
        ({"index": "older", "index.new": "partial"}, "older"),  # killed while writing index.new
        ({"index.new": "partial"}, None),  # the first save cut short: replay from the start
    ],
)
def test_restart_after_a_save_was_interrupted(staged_indexes, leftovers, kept):
    settings, factory, saved = staged_indexes
    saved["partial"] = shutil.copytree(saved["newer"], saved["newer"].with_name("partial"))
    (saved["partial"] / "terms.json").unlink()
    (saved["partial"] / "demands" / "dense" / "meta.json").unlink()
    for name, source in leftovers.items():
        shutil.copytree(saved[source], settings.index_dir.with_name(name))

    keeper = IndexKeeper.open(settings, factory)
    # Without a complete index the start builds from the stored vectors, at the log's last position.
    assert keeper.applied_seq == (_saved_seq(saved[kept]) if kept else _last_seq(settings.resolved_database_url))
    assert sorted(path.name for path in settings.data_dir.iterdir() if path.is_dir()) == (["index"] if kept else [])
    keeper.catch_up()
    keeper.save()
    assert sorted(path.name for path in settings.data_dir.iterdir() if path.is_dir()) == ["index"]
    assert _saved_seq(settings.index_dir) == _last_seq(settings.resolved_database_url) and keeper.engine.count("achievements") == 3
