"""Admission control: at most `slots` API requests are served at once; the rest wait their turn.

Each admitted request holds at most one pooled database connection, and the pool is sized to
the slots plus the background workers (see `create_app`), so an admitted request never waits
for a connection. A request that cannot be admitted within `wait_seconds` gets 503 with
`Retry-After` straight away, in the common error shape: a saturated server answers fast and
says when to come back, instead of stalling for the pool's timeout and failing with a 500.
"""

import asyncio
import math

from starlette.types import ASGIApp, Receive, Scope, Send

from app.errors import busy_response

GUARDED_PREFIX = "/api/"


class AdmissionControl:
    def __init__(self, app: ASGIApp, *, slots: int, wait_seconds: float):
        self.app = app
        self.slots = slots
        self.wait_seconds = wait_seconds
        # One semaphore per event loop: a test client runs each session on a new loop.
        self._semaphores: dict[asyncio.AbstractEventLoop, asyncio.Semaphore] = {}

    def _semaphore(self) -> asyncio.Semaphore:
        loop = asyncio.get_running_loop()
        if loop not in self._semaphores:
            self._semaphores = {loop: asyncio.Semaphore(self.slots)}
        return self._semaphores[loop]

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not scope["path"].startswith(GUARDED_PREFIX):
            await self.app(scope, receive, send)
            return
        semaphore = self._semaphore()
        try:
            async with asyncio.timeout(self.wait_seconds):
                await semaphore.acquire()
        except TimeoutError:
            retry_after = str(max(1, math.ceil(self.wait_seconds)))
            await busy_response("every request slot stayed taken", retry_after)(scope, receive, send)
            return
        try:
            await self.app(scope, receive, send)
        finally:
            semaphore.release()
