"""Vectors kept in the database: encoded once, read by every process, never mixed across encoders.

The unit tests drive IndexKeeper on SQLite and PostgreSQL; the process tests run real
`techmatch serve` processes on one PostgreSQL database with separate data directories.
"""

import shutil
import time
from pathlib import Path

import httpx2 as httpx
import numpy as np
import pytest
from conftest import new_database
from live_service import LiveService, admin_headers, owner_headers
from payloads import achievement
from sqlalchemy import select, update

from app import migrations
from app.achievements.models import Achievement
from app.achievements.schemas import AchievementCreate
from app.auth import Principal
from app.changelog import log_change
from app.config import Settings
from app.database import make_engine, make_session_factory, session_scope
from app.listings import service as listings
from app.matching import snapshot, store
from app.matching.encoder import SentenceTransformerEncoder
from app.matching.engine import MatchEngine
from app.matching.keeper import IndexKeeper, IndexWorker, cached_encoder
from app.matching.models import RecordVector
from app.matching.text import document_text
from app.matching.vector_index import unit_rows
from app.organizations import service as organizations
from app.organizations.schemas import OrganizationCreate

TOPICS = [
    ("动力电池低温热管理与快速预热技术", "基于脉冲自加热与热泵耦合的电池热管理系统，-20℃下5分钟内升温至10℃。"),
    ("寒地玉米秸秆快速腐解菌剂", "筛选耐低温秸秆降解菌群，低温下秸秆腐解率提高百分之三十。"),
    ("碳纤维复合材料汽车轻量化车身", "采用碳纤维增强树脂基复合材料制造车身覆盖件，减重百分之四十。"),
]


def publish(factory, topics=TOPICS) -> list[int]:
    """Published achievements written through the service layer, with no index running; their ids."""
    with session_scope(factory) as session:
        org = organizations.create(session, data=OrganizationCreate(name="吉林大学", kind="university"))
        actor = Principal(key_id=None, org_id=org.id, role="owner")
        return [
            listings.create(session, model=Achievement, data=AchievementCreate(**achievement(title=title, abstract=abstract,
                                                                                          status="published")), actor=actor).id
            for title, abstract in topics
        ]


def encoded(database, topics=TOPICS) -> tuple[list[int], IndexKeeper]:
    """`topics` published, and a keeper (role all) that applied the change log: it encoded and
    stored their vectors; (their ids, the keeper)."""
    factory, settings = database
    ids = publish(factory, topics)
    keeper = IndexKeeper.open(settings, factory)
    keeper.catch_up()
    return ids, keeper


def stored(factory, encoder: str) -> dict[int, str]:
    """record id -> text hash of the stored achievement vectors of `encoder`."""
    with session_scope(factory, read_only=True) as session:
        rows = session.execute(select(RecordVector.record_id, RecordVector.text_hash)
                               .where(RecordVector.encoder == encoder, RecordVector.side == "achievements"))
        return dict(rows.all())


def prefixed(settings: Settings) -> SentenceTransformerEncoder:
    """A second real encoder: the same model reading documents behind a prefix, under another name."""
    base = cached_encoder(Path(settings.encoder), "", "", 1, "torch")
    return SentenceTransformerEncoder(base._model, "m3e-small-prefixed", "", "文档：")  # type: ignore[attr-defined]


def test_applying_the_log_stores_vectors_and_reindex_encodes_only_what_changed(database):
    factory, _ = database
    ids, keeper = encoded(database)
    name = keeper.engine.encoder.name
    assert keeper.encoded == 3 and sorted(stored(factory, name)) == sorted(ids)
    assert keeper.engine.count("achievements") == 3

    # The vectors' own log entries bring nothing new: no encoding, no re-adding.
    keeper.catch_up()
    assert keeper.encoded == 3

    edited, dropped, kept = ids
    with session_scope(factory) as session:
        session.execute(update(Achievement).where(Achievement.id == edited).values(title="寒地玉米秸秆低温腐解菌剂（第二代）"))
        session.execute(RecordVector.__table__.delete().where(RecordVector.record_id == dropped))
    before = stored(factory, name)
    assert keeper.reindex(show_progress=False) == (3, 2)
    after = stored(factory, name)
    assert after[kept] == before[kept] and after[edited] != before[edited] and dropped in after
    assert keeper.reindex(show_progress=False) == (3, 0)
    assert keeper.reindex(force=True, show_progress=False) == (3, 3)


def test_a_fresh_keeper_builds_from_stored_vectors_without_encoding(database):
    factory, settings = database
    ids, first = encoded(database)
    first_vectors = first.engine._side("achievements").vectors.vectors(np.array(ids))

    replica = IndexKeeper.open(settings.model_copy(update={"role": "serve"}), factory, fresh=True)
    assert replica.encoded == 0 and replica.engine.count("achievements") == 3
    assert np.array_equal(replica.engine._side("achievements").vectors.vectors(np.array(ids)), first_vectors)
    lexical = replica.engine._side("achievements").bm25, first.engine._side("achievements").bm25
    assert sorted(lexical[0].terms_of(ids[1])) == sorted(lexical[1].terms_of(ids[1]))
    found = replica.engine.search_text("achievements", "秸秆腐解", k=1)
    assert found[0].id == ids[1]
    replica.catch_up()  # the log, the vectors' entries included: nothing to encode
    assert replica.encoded == 0

    # A record the replica may not encode stays out of its index until an encoding process stores it.
    with session_scope(factory) as session:
        session.execute(update(Achievement).where(Achievement.id == ids[2]).values(title="碳纤维车身覆盖件"))
        log_change(session, side="achievements", record_id=ids[2])
    replica.catch_up()
    assert replica.encoded == 0
    assert replica.engine.vector("achievements", ids[2]) is not None  # its old version stays
    first.catch_up()
    assert first.encoded == 4
    replica.catch_up()
    assert replica.encoded == 0
    assert np.array_equal(replica.engine.vector("achievements", ids[2]), first.engine.vector("achievements", ids[2]))


def test_another_encoder_gets_its_own_rows_and_never_mixes(database):
    factory, settings = database
    ids, keeper = encoded(database)
    base = keeper.engine.encoder.name
    other = IndexKeeper(MatchEngine(prefixed(settings)), factory, settings.index_dir, 1000)
    assert other.load_stored() == 0  # rows of another encoder are never read

    assert other.reindex(show_progress=False) == (3, 3)
    assert sorted(stored(factory, "m3e-small-prefixed")) == sorted(stored(factory, base)) == sorted(ids)
    other.load_stored()
    with session_scope(factory, read_only=True) as session:
        mine = store.read(session, side="achievements", encoder="m3e-small-prefixed", ids=ids)
        theirs = store.read(session, side="achievements", encoder=base, ids=ids)
    for record_id in ids:
        indexed = other.engine.vector("achievements", record_id)
        assert np.array_equal(indexed, mine[record_id].vector) and not np.allclose(indexed, theirs[record_id].vector)
    assert keeper.reindex(show_progress=False) == (3, 0)  # the first encoder's rows are untouched


def test_vectors_are_stored_in_half_precision_and_read_back_as_unit_vectors(database):
    factory, _ = database
    [record_id], keeper = encoded(database, TOPICS[:1])
    with session_scope(factory, read_only=True) as session:
        row = session.scalars(select(RecordVector)).one()
        text = document_text(*session.get(Achievement, record_id).searchable_text())
        bulk = store.load_all(session, side="achievements", encoder=row.encoder, dim=row.dim)
    assert len(row.vector) == row.dim * store.VECTOR_DTYPE.itemsize and row.text_hash == store.text_hash(text)
    assert bulk.ids.tolist() == [record_id] and bulk.vectors.dtype == store.VECTOR_DTYPE
    assert abs(float(np.linalg.norm(unit_rows(bulk.vectors)[0])) - 1) < 1e-6
    assert bulk.tokens[0].split() == keeper.engine.tokenizer.tokenize(text)


def indexed(keeper: IndexKeeper, side: str = "achievements") -> dict[int, tuple[np.ndarray, list[str]]]:
    """What a side of a keeper's index holds, whatever its internal numbering: id -> (vector, terms)."""
    arrays = keeper.engine.export_side(side, np.dtype(np.float32))
    lexical = keeper.engine._side(side).bm25
    return {int(i): (vector, sorted(lexical.terms_of(int(i)))) for i, vector in zip(arrays["ids"], arrays["vectors"], strict=True)}


def test_a_new_process_starts_from_the_stored_snapshot_and_holds_what_a_fresh_build_holds(database, monkeypatch):
    factory, settings = database
    monkeypatch.setattr(snapshot, "PART_BYTES", 700)  # every array in several parts, a vector across two
    ids = publish(factory)
    worker = IndexKeeper.open(settings.model_copy(update={"index_snapshot_every": 1}), factory)
    assert worker.started_from == "change log"  # nothing stored yet
    IndexWorker(worker, 60).run_once()  # caught up: on PostgreSQL the worker stores the snapshot
    name = worker.engine.encoder.name
    on_postgres = settings.database_url.startswith("postgresql")
    with session_scope(factory, read_only=True) as session:
        assert snapshot.position(session, encoder=name) == (worker.applied_seq if on_postgres else None)
    assert worker.write_snapshot() != on_postgres  # SQLite's only process writes one when asked (as `reindex` does)
    assert not worker.write_snapshot()  # one as recent is stored: nothing written

    # After the snapshot: an edit (the worker encodes it) and a withdrawal, which a replica replays from the log.
    edited, withdrawn, _ = ids
    with session_scope(factory) as session:
        session.execute(update(Achievement).where(Achievement.id == edited).values(title="碳纤维车身覆盖件轻量化"))
        session.execute(update(Achievement).where(Achievement.id == withdrawn).values(status="withdrawn"))
        log_change(session, side="achievements", record_id=edited)
        log_change(session, side="achievements", record_id=withdrawn)
    worker.catch_up()

    replica = IndexKeeper.open(settings.model_copy(update={"role": "serve", "data_dir": settings.data_dir / "replica"}), factory)
    assert replica.started_from == "snapshot" and replica.applied_seq < worker.applied_seq
    replica.catch_up()
    rebuilt = IndexKeeper.open(settings.model_copy(update={"role": "serve", "data_dir": settings.data_dir / "rebuilt"}), factory,
                               fresh=True)
    assert rebuilt.started_from == "stored vectors"
    rebuilt.catch_up()
    assert replica.encoded == rebuilt.encoded == 0
    for keeper in (replica, rebuilt):
        keeper.learn_keywords()
    mine, theirs = indexed(replica), indexed(rebuilt)
    assert sorted(mine) == sorted(theirs) == sorted(set(ids) - {withdrawn})
    for record_id, (vector, terms) in mine.items():
        assert np.array_equal(vector, theirs[record_id][0]) and terms == theirs[record_id][1]
    for query in ("碳纤维车身", "秸秆腐解菌剂", "电池热管理"):
        assert replica.engine.search_text("achievements", query, k=3) == rebuilt.engine.search_text("achievements", query, k=3)


def test_a_restart_takes_the_newer_of_its_saved_index_and_the_snapshot(database):
    factory, settings = database
    _, worker = encoded(database)
    worker.save()
    assert worker.write_snapshot()
    restarted = IndexKeeper.open(settings, factory)
    assert restarted.started_from == "data directory" and restarted.applied_seq == worker.applied_seq  # as new: no transfer

    publish(factory, TOPICS[:1])
    worker.catch_up()
    assert worker.write_snapshot()  # the data directory's index is older now
    restarted = IndexKeeper.open(settings.model_copy(update={"role": "serve"}), factory)
    assert restarted.started_from == "snapshot" and restarted.applied_seq == worker.applied_seq
    assert restarted.engine.count("achievements") == 4


def test_the_index_worker_starts_its_background_build_only_when_something_is_due(database):
    factory, settings = database
    encoded(database)
    replica = IndexKeeper.open(settings.model_copy(update={"role": "serve"}), factory, fresh=True)
    assert replica.keywords_pending and not replica.engine.needs_cells  # three records: no IVF cells due
    worker = IndexWorker(replica, 60)
    worker.run_once()
    building = worker._optimizer
    assert building is not None and building.name == "index-cells"
    building.join()
    assert not replica.keywords_pending
    worker.run_once()
    worker.run_once()
    assert worker._optimizer is building  # nothing left to build: no new thread


# -- processes ---------------------------------------------------------------------------------

START = 300  # seconds a service may take to start (loading the model) on a busy shared machine

@pytest.fixture(scope="module")
def shared_postgres(tmp_path_factory):
    """One PostgreSQL database and an owner key, for several service processes."""
    folder = tmp_path_factory.mktemp("replicas")
    with new_database("postgresql", folder) as url:
        migrations.upgrade(url)
        yield url, admin_headers(url), folder


def _environment(url: str, data_dir: Path, role: str) -> dict:
    return {"TECHMATCH_DATABASE_URL": url, "TECHMATCH_DATA_DIR": str(data_dir), "TECHMATCH_ROLE": role}


def _published(service: LiveService, headers: dict, title: str, abstract: str) -> int:
    """A published achievement created through the service's API; its id."""
    created = httpx.post(f"{service.url}/achievements", json=achievement(title=title, abstract=abstract, status="published"),
                         headers=headers, timeout=30)
    assert created.status_code == 201, created.text
    return int(created.json()["id"])


def _matched(service: LiveService, headers: dict, text: str) -> list[int]:
    body = {"text": text, "target": "achievements", "k": 5, "include_weak": True}
    response = httpx.post(f"{service.url}/match", json=body, headers=headers, timeout=30)
    assert response.status_code == 200, response.text
    return [item["id"] for item in response.json()["items"]]


@pytest.mark.slow
def test_a_record_created_through_one_process_is_matched_through_another(shared_postgres):
    url, admin, folder = shared_postgres
    with LiveService(_environment(url, folder / "a", "all"), start_seconds=START) as first, \
            LiveService(_environment(url, folder / "b", "serve"), start_seconds=START) as second:
        owner = owner_headers(first, admin)
        for title, abstract in TOPICS[:2]:
            record_id = _published(first, owner, title, abstract)
            assert _matched(first, owner, title)[0] == record_id  # matchable where it was written when the call returns
            started = time.monotonic()
            while (found := _matched(second, owner, title)) [:1] != [record_id]:
                assert time.monotonic() - started < 10, (found, second.log_tail())
                time.sleep(0.05)
            print(f"record {record_id} matched through the other process {time.monotonic() - started:.2f} s after its creation returned")
        health = httpx.get(f"{second.url}/health").json()
        assert health["encoded_here"] == 0 and health["role"] == "serve", health
        assert httpx.get(f"{first.url}/health").json()["encoded_here"] == 2


@pytest.mark.slow
def test_a_process_on_an_empty_data_directory_matches_without_encoding(shared_postgres):
    url, admin, folder = shared_postgres
    with LiveService(_environment(url, folder / "writer", "all"), start_seconds=START) as writer:
        owner = owner_headers(writer, admin)
        title, abstract = TOPICS[2]
        record_id = _published(writer, owner, title, abstract)
        writer.wait_indexed()
    empty = folder / "empty"
    shutil.rmtree(empty, ignore_errors=True)
    with LiveService(_environment(url, empty, "serve"), start_seconds=START) as fresh:
        health = httpx.get(f"{fresh.url}/health")
        assert health.status_code == 200 and health.json()["ready"], health.text
        assert _matched(fresh, owner, title)[0] == record_id
        assert _matched(fresh, owner, "电池低温预热")  # the earlier test's records too, if it ran
        health = httpx.get(f"{fresh.url}/health").json()
        assert health["encoded_here"] == 0 and health["behind"] == 0, health
        assert health["index"]["achievements"]["indexed"] == store_count(url)
        assert "built from" in fresh.log()


def store_count(url: str) -> int:
    engine = make_engine(url)
    try:
        with session_scope(make_session_factory(engine), read_only=True) as session:
            return len(session.scalars(select(RecordVector.record_id).where(RecordVector.side == "achievements")).all())
    finally:
        engine.dispose()
