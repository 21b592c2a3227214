"""Changing the encoder: the old vectors keep serving while the new encoder's are stored, then the
index switches by itself, never mixing two encoders.

Real encoders (torch fp32 and the int8 ONNX copy of m3e-small, see test_encoder_backends.py) and
real keepers on SQLite and PostgreSQL, as in test_stored_vectors.py.
"""

import numpy as np
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select, update
from test_stored_vectors import publish, stored

from app.achievements.models import Achievement
from app.changelog import log_change
from app.database import session_scope
from app.main import create_app
from app.matching import store
from app.matching.encoder import ONNX_FOLDER, onnx_build
from app.matching.keeper import IndexKeeper, IndexWorker
from app.matching.models import StoredEncoder

TORCH, INT8 = "m3e-small", "m3e-small/onnx-int8"
LATER = [
    ("寒地水稻节水灌溉智能控制系统", "基于土壤墒情传感网络的水稻分区灌溉控制，节水百分之二十五。"),
    ("玄武岩纤维增强混凝土桥面铺装", "玄武岩短切纤维提高桥面混凝土抗裂性能，冻融循环寿命翻倍。"),
]


@pytest.fixture(autouse=True)
def int8_build(database):
    if onnx_build(database[1].encoder) is None:
        pytest.fail(f"no int8 build in {database[1].encoder / ONNX_FOLDER}: run `make setup` (models/build_onnx.py)")


@pytest.fixture
def torch_first(database):
    """The database and settings of the deployment before the switch: the torch backend."""
    factory, settings = database
    return factory, settings.model_copy(update={"encoder_backend": "torch"})


def titles(factory, ids: list[int]) -> dict[int, str]:
    with session_scope(factory, read_only=True) as session:
        return dict(session.execute(select(Achievement.id, Achievement.title).where(Achievement.id.in_(ids))).all())


def assert_all_found(keeper: IndexKeeper, factory, ids: list[int]) -> None:
    """Each record is the best match of its own title."""
    for record_id, title in titles(factory, ids).items():
        assert keeper.engine.search_text("achievements", title, k=1)[0].id == record_id, title


def test_a_backend_switch_serves_the_old_vectors_until_the_new_ones_are_all_stored(torch_first):
    factory, settings = torch_first
    ids = publish(factory)
    torch = IndexKeeper.open(settings, factory)
    torch.catch_up()
    torch.save()
    assert torch.engine.encoder.name == TORCH and sorted(stored(factory, TORCH)) == sorted(ids)

    # A restart with the int8 backend: it serves the torch vectors (its saved index) and encodes nothing.
    int8_settings = settings.model_copy(update={"encoder_backend": "onnx-int8"})
    keeper = IndexKeeper.open(int8_settings, factory)
    assert keeper.engine.encoder.name == TORCH and keeper.started_from == "data directory"
    assert keeper.successor is not None and keeper.successor.name == INT8
    assert keeper.encoded == 0 and stored(factory, INT8) == {}
    assert keeper.rollout_state() == {"serving": TORCH, "successor": INT8, "lacking": None}
    assert_all_found(keeper, factory, ids)

    # A record published meanwhile is encoded with the serving encoder and matchable at once.
    ids += publish(factory, LATER[:1])
    keeper.catch_up()
    assert keeper.encoded == 1 and ids[-1] in stored(factory, TORCH) and stored(factory, INT8) == {}
    assert_all_found(keeper, factory, ids)

    # The int8 vectors are stored batch by batch, without a change-log entry; an edit made
    # after a record's int8 vector was stored makes it lacking again.
    assert not keeper.switch() and keeper.lacking == 4
    assert keeper.encode_successor(limit=2) == 2 and not keeper.switch() and keeper.lacking == 2
    edited = ids[0]
    assert edited in stored(factory, INT8)
    with session_scope(factory) as session:
        session.execute(update(Achievement).where(Achievement.id == edited).values(title="动力电池低温快速预热（第二代）"))
        log_change(session, side="achievements", record_id=edited)
    keeper.catch_up()
    assert keeper.engine.encoder.name == TORCH and not keeper.switch() and keeper.lacking == 3

    # The worker's passes store the rest and switch; nothing is encoded by the switch itself.
    IndexWorker(keeper, 60).run_once()
    assert keeper.engine.encoder.name == INT8 and keeper.successor is None and keeper.rollout_state() is None
    assert keeper.encoded == 1 + 2 + 1 + 3  # the new record and the edit with torch, then 5 int8 vectors
    int8, fp32 = stored(factory, INT8), stored(factory, TORCH)
    assert int8 == fp32 and sorted(int8) == sorted(ids)  # every record, with its current text
    with session_scope(factory, read_only=True) as session:
        rows = store.read(session, side="achievements", encoder=INT8, ids=ids)
    for record_id in ids:
        assert np.array_equal(keeper.engine.vector("achievements", record_id), rows[record_id].vector)
    assert_all_found(keeper, factory, ids)

    # After the switch, records are encoded with int8 only; a restart serves int8, from its saved index.
    ids += publish(factory, LATER[1:])
    keeper.catch_up()
    assert ids[-1] in stored(factory, INT8) and ids[-1] not in stored(factory, TORCH)
    assert_all_found(keeper, factory, ids)
    keeper.save()
    restarted = IndexKeeper.open(int8_settings, factory)
    assert restarted.engine.encoder.name == INT8 and restarted.successor is None
    assert restarted.started_from == "data directory" and restarted.encoded == 0
    assert_all_found(restarted, factory, ids)
    with session_scope(factory, read_only=True) as session:
        registered = {row.name: row for row in session.scalars(select(StoredEncoder))}
    assert sorted(registered) == [TORCH, INT8]
    assert (registered[INT8].directory, registered[INT8].backend, registered[INT8].dim) == ("m3e-small", "onnx-int8", 512)
    assert registered[INT8].served_since > registered[TORCH].served_since  # what a process configured with torch now serves

    # Going back to torch: int8 serves until the torch vectors are current again (the newest
    # record's was made by int8 only), then torch takes over.
    back = IndexKeeper.open(settings, factory)
    assert back.engine.encoder.name == INT8 and back.successor is not None and back.successor.name == TORCH
    assert not back.switch() and back.lacking == 1  # the newest record; the edit was encoded with torch before the switch
    IndexWorker(back, 60).run_once()
    assert back.engine.encoder.name == TORCH and stored(factory, TORCH) == stored(factory, INT8)
    assert_all_found(back, factory, ids)


def test_a_replica_switches_after_the_writer_and_finds_what_changed_before_it_did(torch_first):
    factory, settings = torch_first
    ids = publish(factory)
    IndexKeeper.open(settings, factory).catch_up()
    int8_settings = settings.model_copy(update={"encoder_backend": "onnx-int8"})
    writer = IndexKeeper.open(int8_settings.model_copy(update={"data_dir": settings.data_dir / "writer"}), factory)
    replica = IndexKeeper.open(int8_settings.model_copy(update={"role": "serve", "data_dir": settings.data_dir / "replica"}),
                               factory, fresh=True)
    assert replica.engine.encoder.name == writer.engine.encoder.name == TORCH
    assert replica.encode_successor() == 0  # a replica never encodes documents

    # The writer stores every int8 vector (without log entries): the replica keeps serving torch
    # until the writer has switched, whatever the rows stored.
    assert writer.encode_successor() == 3
    replica_worker = IndexWorker(replica, 60)
    replica_worker.run_once()
    assert replica.engine.encoder.name == TORCH and replica.lacking is None  # a replica never counts
    assert_all_found(replica, factory, ids)

    # The writer switches; a record published and one edited through it before the replica
    # notices are encoded with int8 only (logged): the replica switches and finds both.
    assert writer.switch() and writer.engine.encoder.name == INT8
    ids += publish(factory, LATER[:1])
    with session_scope(factory) as session:
        session.execute(update(Achievement).where(Achievement.id == ids[0]).values(title="动力电池低温快速预热（第二代）"))
        log_change(session, side="achievements", record_id=ids[0])
    writer.catch_up()
    assert ids[-1] not in stored(factory, TORCH)
    replica_worker.run_once()
    assert replica.engine.encoder.name == INT8 and replica.encoded == 0
    assert_all_found(replica, factory, ids)
    for record_id in ids:
        assert np.array_equal(writer.engine.vector("achievements", record_id), replica.engine.vector("achievements", record_id))


def test_without_the_previous_model_directory_the_configured_encoder_serves_as_before(torch_first, tmp_path):
    factory, settings = torch_first
    models = tmp_path / "models"
    models.mkdir()
    (models / "m3e-old").symlink_to(settings.encoder, target_is_directory=True)
    ids = publish(factory)
    old = IndexKeeper.open(settings.model_copy(update={"encoder": models / "m3e-old"}), factory)
    old.catch_up()
    assert sorted(stored(factory, "m3e-old")) == sorted(ids)

    # Another model directory, beside the old one: the old one serves meanwhile.
    (models / "m3e-small").symlink_to(settings.encoder, target_is_directory=True)
    beside = IndexKeeper.open(settings.model_copy(update={"encoder": models / "m3e-small", "role": "serve"}), factory, fresh=True)
    assert beside.engine.encoder.name == "m3e-old" and beside.successor is not None
    assert_all_found(beside, factory, ids)

    # The configured model's folder has no m3e-old: as before rollouts, an empty index, filled by encoding.
    keeper = IndexKeeper.open(settings, factory, fresh=True)
    assert keeper.engine.encoder.name == TORCH and keeper.successor is None and keeper.rollout_state() is None
    assert keeper.engine.count("achievements") == 0 and keeper.started_from == "change log"
    keeper.catch_up()
    assert keeper.encoded == 3 and sorted(stored(factory, TORCH)) == sorted(ids)
    assert_all_found(keeper, factory, ids)


def test_health_shows_the_rollout(torch_first):
    factory, settings = torch_first
    publish(factory)
    IndexKeeper.open(settings, factory).catch_up()
    replica = settings.model_copy(update={"encoder_backend": "onnx-int8", "role": "serve", "data_dir": settings.data_dir / "app"})
    with TestClient(create_app(replica)) as client:
        health = client.get("/api/v1/health").json()
    assert health["encoder"]["name"] == TORCH and health["encoded_here"] == 0
    assert health["rollout"] == {"serving": TORCH, "successor": INT8, "lacking": None}  # counted by encoding processes only
    assert health["index"]["achievements"]["indexed"] == 3
