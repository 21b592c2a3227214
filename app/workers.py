"""Which background workers a process runs, by its role, and the connections they need.

`techmatch serve` (role `all` or `serve`) and `techmatch worker` (role `worker`) both build their
workers here, so the two commands can never drift apart. The index keeper runs in every role
(each process matches against its own copy of the index); the bulk work (imports, the webhook
outbox, milestone reminders, standing matchmaking and its digest mails) runs only where `role` is `all` or `worker`.
Every worker claims its rows in the database, so any number of worker processes may run on one
PostgreSQL database.
"""

from typing import Protocol

from sqlalchemy.orm import Session, sessionmaker

from app.config import Settings
from app.dispatch.mail import DigestMailWorker
from app.dispatch.worker import DispatchWorker
from app.imports.service import ImportRunner
from app.matching.keeper import IndexKeeper, IndexWorker
from app.proposals.reminders import MilestoneReminders
from app.webhooks.worker import OutboxWorker

# Connections each worker may hold at once: the index keeper three (its worker's claim on the
# records it encodes and its store transaction, and the thread that reads the keywords after a
# fresh start), the import runner two (a chunk's transaction and its lease heartbeat), the others
# (outbox, reminders, dispatch, digest mails) one each.
INDEX_CONNECTIONS = 3
BULK_CONNECTIONS = 6


class Worker(Protocol):
    def start(self) -> None: ...

    def stop(self) -> None: ...


def does_bulk_work(settings: Settings) -> bool:
    return settings.role in ("all", "worker")


def background_workers(settings: Settings, factory: sessionmaker[Session], keeper: IndexKeeper) -> list[Worker]:
    """The role's workers in start order; stop them in reverse (the index last, so its final
    save includes the imports' changes)."""
    workers: list[Worker] = [IndexWorker(keeper, settings.index_worker_seconds)]
    if does_bulk_work(settings):
        workers += [
            ImportRunner(factory, settings),
            OutboxWorker(factory, settings),
            MilestoneReminders(factory, settings),
            DispatchWorker(factory, settings, keeper),
        ]
        if settings.smtp_host:
            workers.append(DigestMailWorker(factory, settings))
    return workers


def pool_size(settings: Settings) -> int:
    """Database connections for the role: one per admitted request when it serves HTTP (no request
    holds two), plus what its background workers hold at once."""
    requests = 0 if settings.role == "worker" else settings.max_concurrent_requests
    return requests + INDEX_CONNECTIONS + (BULK_CONNECTIONS if does_bulk_work(settings) else 0)
