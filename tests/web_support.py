"""Fixtures of the web workspace's tests (a pytest plugin, see tests/conftest.py): people with
passwords, signing in, and a real browser.

HTTP tests use the `client` of tests/conftest.py (both databases). Browser tests drive the
system's Chromium (/usr/bin/chromium, never a downloaded build) through Playwright against a real
`techmatch serve` (tests/live_service.py). Without that Chromium they are skipped, and the run
ends with a `browser tests SKIPPED` banner, unless TECHMATCH_REQUIRE_BROWSER=1 (set by
`.ci/run`), which turns the skip into a failure. Each browser test saves a screenshot of its
last page under test-output/web/ (git-ignored).
"""

import os
import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from live_service import LiveService

from app import migrations
from app.database import make_engine, make_session_factory, session_scope
from app.users import service as users
from app.users.schemas import UserCreate

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update", "--disable-sync",
    "--no-first-run",
]
REQUIRE_BROWSER = os.environ.get("TECHMATCH_REQUIRE_BROWSER") == "1"
NO_BROWSER = "browser tests need Chromium at"
OUTPUT = Path(__file__).resolve().parents[1] / "test-output" / "web"
PASSWORD = "correct horse 42"


def add_user(session_factory, *, org_id: int, role: str, name: str, email: str | None = None, phone: str | None = None) -> int:
    """A user with PASSWORD, written straight to the database (as `techmatch create-user` does)."""
    data = UserCreate(org_id=org_id, role=role, name=name, email=email, phone=phone, password=PASSWORD)
    with session_scope(session_factory) as session:
        return users.create(session, data=data).id


def csrf_of(html: str) -> str:
    found = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert found, "no CSRF token in the page"
    return found.group(1)


def sign_in(client: TestClient, identifier: str, password: str = PASSWORD):
    """Posts the sign-in form as a browser would (the page first, for its CSRF cookie and token)."""
    token = csrf_of(client.get("/web/login").text)
    return client.post("/web/login", data={"identifier": identifier, "password": password, "csrf_token": token}, follow_redirects=False)


@pytest.fixture(scope="module")
def browser():
    """Headless Chromium of the system, launched once per test module: Playwright's sync API keeps an
    event loop running while it is open, so it must be closed before another module's asyncio.run()."""
    if not CHROMIUM.exists():
        reason = f"{NO_BROWSER} {CHROMIUM} (apt-get install chromium)"
        if REQUIRE_BROWSER:
            pytest.fail(reason + " (TECHMATCH_REQUIRE_BROWSER=1)")
        pytest.skip(reason)
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS, headless=True)
        yield chromium
        chromium.close()


class Site:
    """A real `techmatch serve` on a migrated SQLite file, with its session factory for setting up data."""

    def __init__(self, service: LiveService, session_factory):
        self.service = service
        self.session_factory = session_factory
        self.base = f"http://127.0.0.1:{service.port}"


@pytest.fixture(scope="module")
def site(tmp_path_factory, browser) -> Iterator[Site]:
    folder = tmp_path_factory.mktemp("site")
    url = f"sqlite:///{folder / 'techmatch.db'}"
    migrations.upgrade(url)
    engine = make_engine(url)
    with LiveService({"TECHMATCH_DATABASE_URL": url, "TECHMATCH_DATA_DIR": str(folder / "data")}) as service:
        yield Site(service, make_session_factory(engine))
    engine.dispose()


@pytest.fixture
def page(browser, site, request):
    """A fresh browser context (no cookies) on the site; a screenshot of the last page is saved at the end."""
    context = browser.new_context(base_url=site.base, viewport={"width": 1100, "height": 900}, locale="zh-CN")
    context.set_default_timeout(30_000)
    tab = context.new_page()
    yield tab
    OUTPUT.mkdir(parents=True, exist_ok=True)
    tab.screenshot(path=str(OUTPUT / f"{request.node.name}.png"), full_page=True)
    context.close()


def sign_in_page(page, identifier: str, password: str = PASSWORD) -> None:
    """Signs in through the form, with the keyboard."""
    page.goto("/web/login")
    page.get_by_label("手机号或邮箱").fill(identifier)
    page.get_by_label("密码").fill(password)
    page.get_by_label("密码").press("Enter")
    page.wait_for_url("**/web/")
