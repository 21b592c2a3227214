"""Migrations on both databases, the start-up check, and the console command."""

import os
import subprocess
import sys

import pytest
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
