"""A periodic background pass on a daemon thread, shared by the service's workers.

Each pass runs at start (to pick up what a restart left) and then every `interval` seconds, or
at once after `wake` (new work arrived through this process); a failing pass is logged and the
next one tries again, so one bad row never stops the worker.
"""

import logging
import threading
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from sqlalchemy.orm import Session, sessionmaker

    from app.config import Settings


class PeriodicWorker:
    """Subclasses name the thread and implement `run_once`; `stopping` lets a long pass end early."""

    name = "worker"

    def __init__(self, interval: float, log: logging.Logger):
        self.interval = interval
        self.log = log
        self._stop = threading.Event()
        self._wake = threading.Event()
        self._thread: threading.Thread | None = None

    @property
    def stopping(self) -> bool:
        return self._stop.is_set()

    def run_once(self) -> int:
        """One pass; returns how much it did (for the log and for tests)."""
        raise NotImplementedError

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name=self.name, daemon=True)
        self._thread.start()

    def wake(self) -> None:
        """Run the next pass now rather than at the end of the interval."""
        self._wake.set()

    def stop(self) -> None:
        """Ask the pass to end and wait for it."""
        self._stop.set()
        self._wake.set()
        if self._thread:
            self._thread.join()

    def _run(self) -> None:
        while True:
            try:
                self.run_once()
            except Exception:
                self.log.exception("%s pass failed; retrying in %.0fs", self.name, self.interval)
            self._wake.wait(self.interval)
            self._wake.clear()
            if self.stopping:
                return


class DrainingWorker(PeriodicWorker):
    """An outbox's worker (webhook messages, digest mails): each pass claims one due row at a time
    and handles it outside any transaction, until none is due or the worker is stopping, so
    stopping waits for at most the send under way (one send's timeout). A pass runs every
    `outbox_worker_seconds`, and once at start for what a restart left."""

    logger: logging.Logger  # each outbox logs under its own name

    def __init__(self, session_factory: "sessionmaker[Session]", settings: "Settings"):
        super().__init__(settings.outbox_worker_seconds, self.logger)
        self.session_factory = session_factory
        self.settings = settings

    def claim(self) -> Any | None:
        """The next due row, claimed in a short transaction of its own, or None."""
        raise NotImplementedError

    def handle(self, claim: Any) -> None:
        """Send what was claimed and record the outcome."""
        raise NotImplementedError

    def run_once(self) -> int:
        """Handle every due row; returns how many were attempted."""
        attempted = 0
        while not self.stopping:
            claimed = self.claim()
            if claimed is None:
                break
            self.handle(claimed)
            attempted += 1
        return attempted
