"""The dispatch worker (调度): announces new matches, runs saved searches, sends the daily digests (mailed by mail.DigestMailWorker).

It runs in the worker role, off the request path. A published record costs one ranking of its
own, whatever the number of saved searches: those run on their own schedule, each over the
records changed since its last run.
"""

import logging
import time

from sqlalchemy.orm import Session, sessionmaker

from app.background import PeriodicWorker
from app.clock import china_today
from app.config import Settings
from app.database import session_scope, utcnow
from app.dispatch import service
from app.matching.keeper import IndexKeeper

log = logging.getLogger("techmatch.dispatch")


class DispatchWorker(PeriodicWorker):
    """Every `dispatch_worker_seconds`: the change log up to what the index has applied, batch by
    batch, then the due saved searches, then the digests of past days."""

    name = "dispatch"

    def __init__(self, session_factory: sessionmaker[Session], settings: Settings, keeper: IndexKeeper):
        super().__init__(settings.dispatch_worker_seconds, log)
        self.session_factory = session_factory
        self.settings = settings
        self.keeper = keeper

    def run_once(self) -> int:
        """One pass; returns the changes passed plus the saved-search and digest notifications written."""
        started = time.perf_counter()
        changes = 0
        while not self.stopping:
            done = service.announce_batch(
                self.session_factory, self.keeper, limit=self.settings.dispatch_batch, k=self.settings.dispatch_matches,
                daily_cap=self.settings.dispatch_daily_cap, today=china_today(),
            )
            if not done:
                break
            changes += done
        searches, now = 0, utcnow()  # one `now` per pass: a search run in it is not due again before the next
        while not self.stopping:
            sent, ran = service.run_saved_searches(
                self.session_factory, self.keeper, now=now, limit=self.settings.dispatch_batch, k=self.settings.saved_search_results,
            )
            searches += sent
            if ran < self.settings.dispatch_batch:
                break
        with session_scope(self.session_factory) as session:
            digests = service.send_digests(
                session, today=china_today(), mail=bool(self.settings.smtp_host), public_url=self.settings.public_url
            )
        if changes or searches or digests:
            log.info(
                "dispatched %d changes, %d saved-search and %d digest notifications in %.1fs",
                changes, searches, digests, time.perf_counter() - started,
            )
        return changes + searches + digests
