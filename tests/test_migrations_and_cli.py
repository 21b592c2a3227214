"""Migrations on both databases, the start-up check, and the console command."""

import json
import os
import subprocess
import sys

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from conftest import new_database
from fastapi.testclient import TestClient
from sqlalchemy import create_engine, inspect, text

from app import migrations
from app.config import Settings
from app.main import DatabaseNotReady, create_app
from app.models_registry import Base


@pytest.mark.parametrize("kind", ["sqlite", "postgresql"])
def test_upgrade_and_downgrade_cleanly(kind, tmp_path):
    with new_database(kind, tmp_path) as url:
        migrations.upgrade(url)
        engine = create_engine(url.replace("postgresql://", "postgresql+psycopg://"))
        tables = set(inspect(engine).get_table_names())
        assert {t.name for t in Base.metadata.sorted_tables} <= tables
        migrations.downgrade(url, "base")
        assert set(inspect(engine).get_table_names()) <= {"alembic_version"}
        migrations.upgrade(url)
        engine.dispose()


@pytest.mark.parametrize("kind", ["sqlite", "postgresql"])
def test_the_migrations_build_what_the_models_declare(kind, tmp_path):
    """Alembic's comparison of the migrated database with the models finds nothing to change."""
    with new_database(kind, tmp_path) as url:
        migrations.upgrade(url)
        engine = create_engine(url.replace("postgresql://", "postgresql+psycopg://"))
        with engine.connect() as connection:
            assert compare_metadata(MigrationContext.configure(connection), Base.metadata) == []
        engine.dispose()


@pytest.mark.parametrize("kind", ["sqlite", "postgresql"])
def test_upgrade_keeps_existing_brokers_province_wide(kind, tmp_path):
    """Broker scopes arrived in 0006: brokers already at work keep their reach; others start `assigned`."""
    with new_database(kind, tmp_path) as url:
        migrations.upgrade(url, "0005")
        engine = create_engine(url.replace("postgresql://", "postgresql+psycopg://"))
        with engine.begin() as connection:
            for org_id, name in ((1, "吉林省技术转移中心"), (2, "吉林大学")):
                connection.execute(
                    text(
                        "INSERT INTO organizations (id, name, kind, contact, created_at, updated_at)"
                        " VALUES (:id, :name, 'university', '{}', :at, :at)"
                    ),
                    {"id": org_id, "name": name, "at": "2026-01-01 00:00:00+00:00"},
                )
            connection.execute(
                text("INSERT INTO api_keys (org_id, role, label, prefix, key_hash, created_at) VALUES (1, 'broker', '', 'tm_x', 'h', :at)"),
                {"at": "2026-01-01 00:00:00+00:00"},
            )
        migrations.upgrade(url)
        with engine.connect() as connection:
            scopes = dict(connection.execute(text("SELECT id, broker_scope FROM organizations")).all())
        engine.dispose()
        assert scopes == {1: "province", 2: "assigned"}


@pytest.mark.parametrize("kind", ["sqlite", "postgresql"])
def test_upgrade_registers_the_encoders_of_the_stored_vectors(kind, tmp_path):
    """0016 registers the encoders of the vectors stored before it (prefixes unknown: NULL, the
    configured ones) and marks the one with the most vectors served, so the int8 default that came
    with it serves the stored torch vectors while its own are made (test_encoder_rollout.py)."""
    with new_database(kind, tmp_path) as url:
        migrations.upgrade(url, "0015")
        engine = create_engine(url.replace("postgresql://", "postgresql+psycopg://"))
        with engine.begin() as connection:
            for record_id, encoder in ((1, "m3e-small"), (2, "m3e-small"), (1, "m3e-small/onnx-int8"), (1, "elsewhere/v2")):
                connection.execute(
                    text(
                        "INSERT INTO record_vectors (side, record_id, encoder, dim, text_hash, vector, tokens, encoded_at)"
                        " VALUES ('demands', :id, :encoder, 512, 'h', :vector, '', :at)"
                    ),
                    {"id": record_id, "encoder": encoder, "vector": b"\0" * 1024, "at": "2026-01-01 00:00:00+00:00"},
                )
        migrations.upgrade(url)
        with engine.connect() as connection:
            registered = connection.execute(
                text("SELECT name, directory, backend, max_tokens, query_prefix, dim, served_since IS NOT NULL FROM stored_encoders"
                     " ORDER BY name")
            ).all()
        engine.dispose()
        assert [tuple(row) for row in registered] == [
            ("m3e-small", "m3e-small", "torch", 256, None, 512, True),  # the most vectors: the one served
            ("m3e-small/onnx-int8", "m3e-small", "onnx-int8", 256, None, 512, False),
        ]


@pytest.mark.parametrize("kind", ["sqlite", "postgresql"])
def test_upgrade_cleans_stored_control_characters_in_the_open(kind, tmp_path):
    """0008: a stored control character is removed with a new version, a history entry and an index change."""
    with new_database(kind, tmp_path) as url:
        migrations.upgrade(url, "0007")
        engine = create_engine(url.replace("postgresql://", "postgresql+psycopg://"))
        at = {"at": "2026-01-01 00:00:00+00:00"}
        with engine.begin() as connection:
            connection.execute(
                text(
                    "INSERT INTO organizations (id, name, kind, contact, created_at, updated_at)"
                    " VALUES (1, '吉林大学', 'university', '{}', :at, :at)"
                ),
                at,
            )
            connection.execute(
                text(
                    "INSERT INTO achievements (id, owner_org_id, title, fields, keywords, negotiable, contact, status,"
                    " created_at, updated_at, abstract, patents, transfer_modes, team, institution)"
                    " VALUES (7, 1, :title, '[]', :keywords, false, '{}', 'published', :at, :at, '摘要', '[]', '[]', '{}', '吉林大学')"
                ),
                {**at, "title": "控制字符测试\u0007成果", "keywords": '["低温\\u001b"]'},
            )
        migrations.upgrade(url)
        with engine.connect() as connection:
            row = connection.execute(text("SELECT title, keywords, version FROM achievements WHERE id = 7")).one()
            title, keywords, version = row
            history = connection.execute(text("SELECT action, changes FROM change_history WHERE entity_id = 7")).all()
            logged = connection.execute(text("SELECT count(*) FROM index_changes WHERE record_id = 7")).scalar()
        engine.dispose()
        assert title == "控制字符测试成果" and as_json(keywords) == ["低温"] and version == 2
        assert len(history) == 1 and history[0].action == "update"
        changes = as_json(history[0].changes)
        assert changes["title"] == {"old": "控制字符测试\u0007成果", "new": "控制字符测试成果"}
        assert logged >= 1


@pytest.mark.parametrize("kind", ["sqlite", "postgresql"])
def test_upgrade_moves_unfinished_uploads_from_the_data_directory_into_the_database(kind, tmp_path, monkeypatch):
    """0011: a job queued before the upgrade keeps its file (read from data/imports); a finished job's file is not wanted."""
    monkeypatch.setenv("TECHMATCH_DATA_DIR", str(tmp_path / "data"))
    (tmp_path / "data" / "imports").mkdir(parents=True)
    upload = "需求名称,需求描述\n冬季续航衰减问题,纯电动乘用车低温续航衰减。\n".encode()
    for job_id in (1, 2):
        (tmp_path / "data" / "imports" / f"{job_id}.csv").write_bytes(upload)
    with new_database(kind, tmp_path) as url:
        migrations.upgrade(url, "0010")
        engine = create_engine(url.replace("postgresql://", "postgresql+psycopg://"))
        at = {"at": "2026-01-01 00:00:00+00:00"}
        with engine.begin() as connection:
            connection.execute(
                text(
                    "INSERT INTO organizations (id, name, kind, contact, created_at, updated_at)"
                    " VALUES (1, '某公司', 'enterprise', '{}', :at, :at)"
                ),
                at,
            )
            for job_id, status in ((1, "queued"), (2, "done"), (3, "running")):  # job 3's file is gone
                connection.execute(
                    text(
                        "INSERT INTO import_jobs (id, side, org_id, role, mode, all_or_nothing, filename, status, message, processed_rows,"
                        " created, updated, skipped, failed, errors, ignored_columns, created_at, updated_at)"
                        " VALUES (:id, 'demands', 1, 'owner', 'commit', false, 'list.csv', :status, '',"
                        " 0, 0, 0, 0, 0, '[]', '[]', :at, :at)"
                    ),
                    {**at, "id": job_id, "status": status},
                )
        migrations.upgrade(url)
        with engine.connect() as connection:
            stored = dict(connection.execute(text("SELECT job_id, data FROM import_files")).all())
        engine.dispose()
        assert {job_id: bytes(data) for job_id, data in stored.items()} == {1: upload}


def as_json(value):
    """A JSON column as read by raw SQL: already decoded on PostgreSQL, text on SQLite."""
    return json.loads(value) if isinstance(value, str) else value


def test_service_refuses_an_unmigrated_database(tmp_path):
    app = create_app(Settings(data_dir=tmp_path))
    with pytest.raises(DatabaseNotReady, match="techmatch db upgrade"):
        with TestClient(app):
            pass


def _techmatch(*args, env):
    command = [os.path.join(os.path.dirname(sys.executable), "techmatch"), *args]
    return subprocess.run(command, capture_output=True, text=True, env=env, timeout=120)


@pytest.mark.slow
def test_console_commands_print_only_ids_and_keys(tmp_path):
    env = {**os.environ, "TECHMATCH_DATA_DIR": str(tmp_path)}
    env.pop("TECHMATCH_DATABASE_URL", None)
    assert _techmatch("db", "upgrade", env=env).returncode == 0
    admin = _techmatch("create-admin", env=env)
    assert admin.returncode == 0 and admin.stdout.strip().startswith("tm_")
    org = _techmatch("create-org", "--name", "长春理工大学", "--kind", "university", "--region", "220100", env=env)
    assert org.returncode == 0 and org.stdout.strip().isdigit()
    key = _techmatch("create-key", "--org", org.stdout.strip(), "--role", "owner", env=env)
    assert key.returncode == 0 and len(key.stdout.strip().splitlines()) == 1
    bad = _techmatch("create-org", "--name", "x", "--kind", "university", "--region", "990000", env=env)
    assert bad.returncode == 1 and bad.stdout == "" and "region" in bad.stderr

    with TestClient(create_app(Settings(data_dir=tmp_path))) as client:
        me = client.get("/api/v1/me", headers={"Authorization": f"Bearer {key.stdout.strip()}"}).json()
        issued = client.get(f"/api/v1/organizations/{org.stdout.strip()}/keys",
                            headers={"Authorization": f"Bearer {admin.stdout.strip()}"}).json()
        assert [k["prefix"] for k in issued] == [key.stdout.strip()[:10]]
        assert me == {"key_id": issued[0]["id"], "org_id": int(org.stdout), "role": "owner"}


@pytest.mark.slow
def test_console_commands_on_an_empty_data_directory_say_what_to_run(tmp_path):
    env = {**os.environ, "TECHMATCH_DATA_DIR": str(tmp_path)}
    env.pop("TECHMATCH_DATABASE_URL", None)
    for command in (["create-admin"], ["create-org", "--name", "吉林大学", "--kind", "university"], ["worker"]):
        result = _techmatch(*command, env=env)
        assert result.returncode == 1 and result.stdout == ""
        assert "techmatch db upgrade" in result.stderr and str(tmp_path) in result.stderr
        assert "Traceback" not in result.stderr
