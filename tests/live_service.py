"""A real `techmatch serve` in a child process, for tests and benchmarks about processes and concurrent clients.

The service's log goes to a file in its data directory, not to a pipe: a busy service writes a
line per request and would block on a pipe nobody reads.
"""

import os
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx2 as httpx
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from app.accounts import service as accounts
from app.database import make_engine, make_session_factory, session_scope

BIN = Path(sys.executable).parent


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@contextmanager
def postgres_database(server_url: str) -> Iterator[str]:
    """A new empty database on the PostgreSQL server of `server_url`, dropped afterwards; yields its URL."""
    admin = create_engine(server_url, isolation_level="AUTOCOMMIT")
    name = f"techmatch_test_{uuid.uuid4().hex[:10]}"
    with admin.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield make_url(server_url).set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def admin_headers(database_url: str) -> dict:
    """Request headers with a new admin key, issued straight in the (migrated) database."""
    engine = make_engine(database_url)
    try:
        with session_scope(make_session_factory(engine)) as session:
            _, key = accounts.bootstrap_admin(session, org_name="吉林省科学技术厅")
    finally:
        engine.dispose()
    return {"Authorization": f"Bearer {key}"}


def owner_headers(service: "LiveService", admin: dict) -> dict:
    """Request headers with an owner key of a new university, created through `service`'s API."""
    org = httpx.post(f"{service.url}/organizations", json={"name": "吉林大学", "kind": "university"}, headers=admin).json()
    key = httpx.post(f"{service.url}/organizations/{org['id']}/keys", json={"role": "owner"}, headers=admin).json()["key"]
    return {"Authorization": f"Bearer {key}"}


class LiveService:
    """`techmatch serve` on a free port with `env` (which names the database and the data directory)."""

    def __init__(self, env: dict, *, start_seconds: float = 120):
        self.port = free_port()
        self.env = {**os.environ, **env, "TECHMATCH_PORT": str(self.port)}
        data_dir = Path(self.env["TECHMATCH_DATA_DIR"])
        data_dir.mkdir(parents=True, exist_ok=True)
        self.log_path = data_dir / "service.log"
        with open(self.log_path, "ab") as log:
            self._log_start = log.tell()  # services may share a data directory one after another
            self.process = subprocess.Popen([BIN / "techmatch", "serve"], env=self.env, stdout=log, stderr=log)
        self.url = f"http://127.0.0.1:{self.port}/api/v1"
        deadline = time.monotonic() + start_seconds
        while time.monotonic() < deadline:
            try:
                httpx.get(f"{self.url}/health", timeout=1)
                return
            except httpx.TransportError:
                if self.process.poll() is not None:
                    raise RuntimeError(f"service exited with {self.process.returncode}:\n{self.log_tail()}") from None
                time.sleep(0.2)
        self.stop(signal.SIGKILL)
        raise RuntimeError(f"service did not answer within {start_seconds} s:\n{self.log_tail()}")

    def log(self) -> str:
        """What this service has logged so far."""
        with open(self.log_path, "rb") as log:
            log.seek(self._log_start)
            return log.read().decode(errors="replace")

    def log_tail(self, lines: int = 40) -> str:
        return "\n".join(self.log().splitlines()[-lines:])

    def pending(self) -> int:
        """Committed changes the matching index has not applied yet."""
        return sum(side["pending"] for side in httpx.get(f"{self.url}/health", timeout=30).json()["index"].values())

    def wait_indexed(self, seconds: float = 600) -> dict:
        """Wait until the matching index has applied every committed change; returns the last health body."""
        deadline = time.monotonic() + seconds
        while True:
            health = httpx.get(f"{self.url}/health", timeout=30).json()
            if not any(side["pending"] for side in health["index"].values()):
                return health
            if time.monotonic() > deadline:
                raise TimeoutError(f"index still behind after {seconds} s: {health['index']}")
            time.sleep(0.5)

    def stop(self, sig=signal.SIGTERM, *, seconds: float = 60) -> float:
        """Send `sig` and return how long the exit took; a service still running after `seconds` is
        killed, so no test leaves one behind."""
        started = time.monotonic()
        if self.process.poll() is None:
            self.process.send_signal(sig)
            try:
                self.process.wait(timeout=seconds)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        return time.monotonic() - started

    def __enter__(self) -> "LiveService":
        return self

    def __exit__(self, *_) -> None:
        self.stop()
