"""Fixtures: every API test runs once on a SQLite file and once on a fresh PostgreSQL database.

PostgreSQL is reached at TECHMATCH_TEST_POSTGRES_URL (default: the local server's `test`
database). When it is unreachable its half is skipped and the run says so at the end, unless
TECHMATCH_REQUIRE_POSTGRES=1 (set by `.ci/run`), which turns that into a failure.
"""

import os
import shutil
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from live_service import postgres_database
from sqlalchemy import create_engine
from sqlalchemy.exc import OperationalError

from app import migrations
from app.accounts import service as accounts
from app.config import Settings
from app.database import make_engine, make_session_factory, session_scope
from app.main import create_app
from app.models_registry import Base

# The web workspace's fixtures: users, signing in, the browser (tests/web_support.py).
pytest_plugins = ["web_support"]
pytest.register_assert_rewrite("web_support")
from web_support import NO_BROWSER  # noqa: E402  (after its assertions are set to be rewritten)

POSTGRES_URL = os.environ.get("TECHMATCH_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
REQUIRE_POSTGRES = os.environ.get("TECHMATCH_REQUIRE_POSTGRES") == "1"
UNREACHABLE = "PostgreSQL unreachable at"


@contextmanager
def new_database(kind: str, folder: Path) -> Iterator[str]:
    """An empty database of `kind`, dropped afterwards; yields its URL."""
    if kind == "sqlite":
        yield f"sqlite:///{folder / f'{uuid.uuid4().hex[:8]}.db'}"
        return
    admin = create_engine(POSTGRES_URL, isolation_level="AUTOCOMMIT")
    try:
        admin.connect().close()
    except OperationalError as error:
        reason = f"{UNREACHABLE} {POSTGRES_URL}: {str(error).splitlines()[0]}"
        if REQUIRE_POSTGRES:
            pytest.fail(reason + " (TECHMATCH_REQUIRE_POSTGRES=1)")
        pytest.skip(reason)
    admin.dispose()
    with postgres_database(POSTGRES_URL) as url:
        yield url


# What a skipped part of the suite says at the end: (text in its skip reason, banner, what it means).
SKIP_BANNERS = [
    (UNREACHABLE, "PostgreSQL half SKIPPED",
     "Only SQLite was tested. CI sets TECHMATCH_REQUIRE_POSTGRES=1 and fails instead."),
    (NO_BROWSER, "browser tests SKIPPED", "CI sets TECHMATCH_REQUIRE_BROWSER=1 and fails instead."),
]


def pytest_terminal_summary(terminalreporter):
    """The banners are built from the skip reports, so they show when tests run in worker processes too."""
    skipped = [str(report.longrepr) for report in terminalreporter.stats.get("skipped", [])]
    for marker, title, meaning in SKIP_BANNERS:
        reasons = [reason for reason in skipped if marker in reason]
        if reasons:
            terminalreporter.write_sep("=", title, yellow=True)
            terminalreporter.write_line(reasons[0])
            terminalreporter.write_line(meaning)


@pytest.fixture(scope="session", params=["sqlite", "postgresql"])
def database_url(request, tmp_path_factory) -> Iterator[str]:
    with new_database(request.param, tmp_path_factory.mktemp(request.param)) as url:
        migrations.upgrade(url)
        yield url


@pytest.fixture(params=["sqlite", "postgresql"])
def database(request, tmp_path):
    """A migrated empty database of each kind, its session factory and settings with a data
    directory of their own (for tests that drive the index keeper without the service)."""
    with new_database(request.param, tmp_path) as url:
        migrations.upgrade(url)
        engine = make_engine(url)
        yield make_session_factory(engine), Settings(database_url=url, data_dir=tmp_path / "data")
        engine.dispose()


@pytest.fixture(scope="session")
def app(database_url, tmp_path_factory):
    settings = Settings(database_url=database_url, data_dir=tmp_path_factory.mktemp("data"))
    return create_app(settings)


@pytest.fixture
def client(app) -> Iterator[TestClient]:
    """A client on an emptied database and an empty matching index."""
    with app.state.engine.begin() as connection:
        for table in reversed(Base.metadata.sorted_tables):
            connection.execute(table.delete())
    shutil.rmtree(app.state.settings.index_dir, ignore_errors=True)
    with TestClient(app) as test_client:
        yield test_client


def issue_admin_key(app) -> str:
    with session_scope(app.state.session_factory) as session:
        _, key = accounts.bootstrap_admin(session, org_name="吉林省科学技术厅")
    return key


class World:
    """A small province: an admin, two enterprises, a university, the province's broker and a city platform.

    Attributes are API keys (`Authorization` headers ready to use) and organization ids.
    """

    def __init__(self, client: TestClient, app):
        self.client = client
        self.admin = self._auth(issue_admin_key(app))
        self.ent_a_id, self.ent_a = self.organization("长春某汽车零部件有限公司", "enterprise", "220104", "owner")
        self.ent_b_id, self.ent_b = self.organization("吉林市某化工有限公司", "enterprise", "220202", "owner")
        self.uni_id, self.uni = self.organization("吉林大学", "university", "220102", "owner")
        self.broker_org_id, self.broker = self.organization(
            "吉林省技术转移中心", "broker_agency", "220100", "broker", broker_scope="province"
        )
        self.platform_id, self.reader = self.organization("延边州科技成果转化平台", "government", "222401", "reader")

    @staticmethod
    def _auth(key: str) -> dict:
        return {"Authorization": f"Bearer {key}"}

    def organization(self, name: str, kind: str, region: str, role: str, **extra) -> tuple[int, dict]:
        response = self.client.post(
            "/api/v1/organizations", json={"name": name, "kind": kind, "region": region, **extra}, headers=self.admin
        )
        assert response.status_code == 201, response.text
        org_id = response.json()["id"]
        response = self.client.post(f"/api/v1/organizations/{org_id}/keys", json={"role": role}, headers=self.admin)
        assert response.status_code == 201, response.text
        return org_id, self._auth(response.json()["key"])


@pytest.fixture
def world(client, app) -> World:
    return World(client, app)


def database_fingerprint(app) -> dict:
    """Every row of every table: equal fingerprints mean nothing was written."""
    with app.state.engine.connect() as connection:
        return {
            table.name: sorted(map(repr, connection.execute(table.select()).all()))
            for table in Base.metadata.sorted_tables
        }
