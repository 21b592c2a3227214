"""Webhooks: signed POSTs from the outbox, retries with backoff, delivery after a crash, and the address check."""

import hashlib
import hmac
import json
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from conftest import World
from fastapi.testclient import TestClient
from payloads import demand
from sqlalchemy import select

from app.config import Settings
from app.database import session_scope
from app.main import create_app
from app.models_registry import Base
from app.notifications.service import notify
from app.organizations import service as organizations
from app.organizations.schemas import OrganizationCreate
from app.webhooks.models import OutboxMessage, Webhook
from app.webhooks.worker import OutboxWorker

API = "/api/v1"
SECRET = "s3cret-for-the-local-receiver"


class Receiver:
    """A real HTTP server on 127.0.0.1 answering with the given statuses in turn (then 200)."""

    def __init__(self, statuses: list[int]):
        self.statuses = list(statuses)
        self.requests: list[tuple[dict, bytes]] = []
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers["Content-Length"]))
                receiver.requests.append((dict(self.headers), body))
                self.send_response(receiver.statuses.pop(0) if receiver.statuses else 200)
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}/hook"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    server = Receiver([500, 500])
    yield server
    server.close()


def make_app(database_url: str, data_dir, **settings):
    return create_app(Settings(database_url=database_url, data_dir=data_dir, webhook_backoff_seconds=0.05, **settings))


@contextmanager
def running(app) -> Iterator[TestClient]:
    with TestClient(app) as client:
        yield client


def empty(app) -> None:
    with app.state.engine.begin() as connection:
        for table in reversed(Base.metadata.sorted_tables):
            connection.execute(table.delete())


def outbox(app) -> list[OutboxMessage]:
    with session_scope(app.state.session_factory) as session:
        return list(session.scalars(select(OutboxMessage).order_by(OutboxMessage.id)))


def wait_for(app, status: str, seconds: float = 20) -> OutboxMessage:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        messages = outbox(app)
        if messages and messages[0].status == status:
            return messages[0]
        time.sleep(0.05)
    raise AssertionError(f"no outbox message became {status!r}: {[(m.status, m.attempts, m.last_error) for m in outbox(app)]}")


def register_webhook(world, url: str) -> None:
    body = {"url": url, "secret": SECRET, "allow_private": True}
    response = world.client.put(f"{API}/organizations/{world.ent_a_id}/webhook", json=body, headers=world.admin)
    assert response.status_code == 200, response.text


def cause_a_notification(world) -> int:
    """The university applies to enterprise A's demand: A is told (proposal_submitted)."""
    record = world.client.post(f"{API}/demands", json=demand(status="published"), headers=world.ent_a).json()
    body = {"technical_approach": "热泵耦合", "lead": {"name": "李教授"}, "schedule": [{"title": "样机", "due_date": "2099-01-01"}]}
    response = world.client.post(f"{API}/demands/{record['id']}/proposals", json=body, headers=world.uni)
    assert response.status_code == 201, response.text
    return response.json()["id"]


def test_a_signed_post_is_retried_until_the_receiver_accepts_it(database_url, tmp_path, receiver):
    app = make_app(database_url, tmp_path, outbox_worker_seconds=0.05)
    empty(app)
    with running(app) as client:
        world = World(client, app)
        register_webhook(world, receiver.url)
        proposal_id = cause_a_notification(world)
        message = wait_for(app, "delivered")
    assert (message.attempts, message.last_error) == (3, "")
    assert len(receiver.requests) == 3  # 500, 500, then 200
    for headers, body in receiver.requests:
        expected = "sha256=" + hmac.new(SECRET.encode(), body, hashlib.sha256).hexdigest()
        assert hmac.compare_digest(headers["X-Techmatch-Signature"], expected)
        assert headers["X-Techmatch-Delivery"] == str(message.id)
    payload = json.loads(receiver.requests[-1][1])
    assert payload["event"] == "proposal_submitted"
    assert (payload["notification"]["org_id"], payload["notification"]["entity_id"]) == (world.ent_a_id, proposal_id)


def test_the_receiver_gives_up_after_the_last_attempt(database_url, tmp_path, receiver):
    app = make_app(database_url, tmp_path, outbox_worker_seconds=0.05, webhook_max_attempts=2)
    empty(app)
    with running(app) as client:
        world = World(client, app)
        register_webhook(world, receiver.url)
        cause_a_notification(world)
        message = wait_for(app, "failed")
    assert message.attempts == 2 and "500" in message.last_error and len(receiver.requests) == 2


def test_a_crash_before_the_send_still_delivers_once_a_worker_runs_again(database_url, tmp_path):
    receiver = Receiver([])
    try:
        stalled = make_app(database_url, tmp_path / "first", outbox_worker_seconds=3600)  # its worker never comes round
        empty(stalled)
        with running(stalled) as client:
            world = World(client, stalled)
            register_webhook(world, receiver.url)
            cause_a_notification(world)
        [message] = outbox(stalled)
        assert (message.status, message.attempts, receiver.requests) == ("pending", 0, [])

        restarted = make_app(database_url, tmp_path / "second", outbox_worker_seconds=0.05)
        with running(restarted):
            delivered = wait_for(restarted, "delivered")
        assert delivered.id == message.id and len(receiver.requests) == 1
        assert json.loads(receiver.requests[0][1])["event"] == "proposal_submitted"
    finally:
        receiver.close()


def test_two_outbox_workers_never_claim_the_same_message(database_url, tmp_path):
    """Two workers (two processes' outbox threads) claim from one queue at once: each message goes to one."""
    app = make_app(database_url, tmp_path)
    empty(app)
    factory = app.state.session_factory
    with session_scope(factory) as session:
        org = organizations.create(session, data=OrganizationCreate(name="长春某汽车零部件有限公司", kind="enterprise"))
        session.add(Webhook(org_id=org.id, url="http://127.0.0.1:9/hook", secret=SECRET, allow_private=True))
        session.flush()
        for n in range(1, 61):
            notify(session, org_id=org.id, kind="proposal_submitted", message=f"第 {n} 份揭榜申请", entity_type="proposal", entity_id=n)
    expected = sorted(message.id for message in outbox(app))
    assert len(expected) == 60
    workers = [OutboxWorker(factory, app.state.settings) for _ in range(2)]
    claimed: list[list[int]] = [[], []]
    start = threading.Barrier(2)

    def claim_everything(n: int) -> None:
        start.wait()
        misses = 0
        while misses < 3:  # None means nothing is due, or another worker took the row first
            claim = workers[n].claim()
            if claim is None:
                misses += 1
            else:
                claimed[n].append(claim.message_id)

    threads = [threading.Thread(target=claim_everything, args=(n,)) for n in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert not set(claimed[0]) & set(claimed[1])
    assert sorted(claimed[0] + claimed[1]) == expected
    if not database_url.startswith("sqlite"):
        # SKIP LOCKED lets both work at once; SQLite's one write lock may let one thread win every turn.
        assert claimed[0] and claimed[1]
    app.state.engine.dispose()


def test_webhook_urls_are_http_and_public_unless_an_admin_allows_otherwise(world):
    path = f"{API}/organizations/{world.ent_a_id}/webhook"
    def put(key, **body):
        return world.client.put(path, json={"secret": SECRET, **body}, headers=key)
    for url in ("http://127.0.0.1:8080/hook", "http://10.1.2.3/hook", "http://169.254.169.254/latest", "http://[::1]/hook", "http://localhost/hook"):
        response = put(world.ent_a, url=url)
        assert response.status_code == 422 and response.json()["detail"][0]["loc"] == ["body", "url"], (url, response.text)
        assert put(world.admin, url=url).status_code == 422  # an admin, too, must say allow_private
    assert put(world.ent_a, url="ftp://example.com/hook").status_code == 422
    assert put(world.ent_a, url="http://127.0.0.1:8080/hook", allow_private=True).status_code == 403  # owners cannot allow it
    assert put(world.ent_b, url="http://127.0.0.1:8080/hook").status_code == 403  # another organization's webhook
    allowed = put(world.admin, url="http://127.0.0.1:8080/hook", allow_private=True)
    assert allowed.status_code == 200 and "secret" not in allowed.json()
    assert world.client.get(path, headers=world.ent_a).json()["allow_private"] is True
    assert world.client.delete(path, headers=world.ent_a).status_code == 204
    assert world.client.get(path, headers=world.ent_a).status_code == 404
