"""The outbox worker: a background thread that POSTs queued notifications to their webhooks.

A message is claimed in one short transaction, sent outside any transaction, and its outcome
written in another, so a slow receiver never holds a database lock and never delays a request.
Failures are retried with exponential backoff until `webhook_max_attempts`, then marked failed.
Delivery is at least once: a receiver can tell a repeat by `X-Techmatch-Delivery`.
"""

import hashlib
import hmac
import http.client
import logging
import urllib.error
import urllib.request
from dataclasses import dataclass
from datetime import timedelta
from typing import Any, cast

from sqlalchemy import CursorResult, select, update

from app.background import DrainingWorker
from app.database import session_scope, utcnow
from app.retry import CLAIM_MARGIN_SECONDS, retry_delay
from app.webhooks.models import OutboxMessage, Webhook
from app.webhooks.service import url_problem

log = logging.getLogger("techmatch.webhooks")


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    """A redirect could lead to an address the URL check never saw: treat it as a failure."""

    def redirect_request(self, *args, **kwargs):
        return None


# No proxies either: the address checked is the address connected to.
_OPENER = urllib.request.build_opener(urllib.request.ProxyHandler({}), _NoRedirect)


def sign(secret: str, body: bytes) -> str:
    """The `X-Techmatch-Signature` value: HMAC-SHA256 of the raw body with the webhook's secret."""
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def post(url: str, body: bytes, *, secret: str, delivery_id: int, timeout: float) -> None:
    """POST one signed message; raises on any answer but 2xx."""
    request = urllib.request.Request(
        url,
        data=body,
        method="POST",
        headers={
            "Content-Type": "application/json; charset=utf-8",
            "User-Agent": "techmatch-webhook",
            "X-Techmatch-Signature": sign(secret, body),
            "X-Techmatch-Delivery": str(delivery_id),
        },
    )
    with _OPENER.open(request, timeout=timeout) as response:
        response.read(65536)


@dataclass(frozen=True)
class _Claim:
    message_id: int
    body: str
    url: str | None
    secret: str
    allow_private: bool


class OutboxWorker(DrainingWorker):
    """Drains the webhook outbox."""

    name = "webhook-outbox"
    logger = log

    def claim(self) -> _Claim | None:
        """The oldest due message, its retry time pushed past this send so no other worker takes it."""
        with session_scope(self.session_factory) as session:
            now = utcnow()
            message = session.scalar(
                select(OutboxMessage)
                .where(OutboxMessage.status == "pending", OutboxMessage.next_attempt_at <= now)
                .order_by(OutboxMessage.next_attempt_at, OutboxMessage.id)
                .limit(1)
                .with_for_update(skip_locked=True)
            )
            if message is None:
                return None
            lease = now + timedelta(seconds=self.settings.webhook_timeout_seconds + CLAIM_MARGIN_SECONDS)
            # An UPDATE's result is a CursorResult (it has a rowcount); Session.execute() is typed for any statement.
            claimed = session.execute(
                update(OutboxMessage)
                .where(
                    OutboxMessage.id == message.id,
                    OutboxMessage.status == "pending",
                    OutboxMessage.next_attempt_at == message.next_attempt_at,
                )
                .values(next_attempt_at=lease)
            )
            if not cast(CursorResult[Any], claimed).rowcount:  # another worker claimed it first; the next pass goes on
                return None
            webhook = session.get(Webhook, message.org_id)
            if webhook is None:
                return _Claim(message.id, message.body, None, "", False)
            return _Claim(message.id, message.body, webhook.url, webhook.secret, webhook.allow_private)

    def handle(self, claim: _Claim) -> None:
        if claim.url is None:
            error: str | None = "the organization's webhook was removed"
        else:
            error = url_problem(claim.url, allow_private=claim.allow_private)
            if error is None:
                try:
                    post(
                        claim.url, claim.body.encode(), secret=claim.secret, delivery_id=claim.message_id,
                        timeout=self.settings.webhook_timeout_seconds,
                    )
                except (urllib.error.URLError, http.client.HTTPException, OSError, ValueError) as failure:
                    error = str(failure) or type(failure).__name__
        with session_scope(self.session_factory) as session:
            message = session.get(OutboxMessage, claim.message_id)
            if message is None:  # deleted (with its organization or notification) while it was sent
                return
            message.attempts += 1
            now = utcnow()
            if error is None:
                message.status, message.delivered_at, message.last_error = "delivered", now, ""
                return
            message.last_error = error[:500]
            delay = None if claim.url is None else retry_delay(
                message.attempts, max_attempts=self.settings.webhook_max_attempts,
                backoff_seconds=self.settings.webhook_backoff_seconds, backoff_max_seconds=self.settings.webhook_backoff_max_seconds,
            )
            if delay is None:
                message.status = "failed"
                log.warning("webhook message %d failed for good after %d attempts: %s", message.id, message.attempts, error)
                return
            message.next_attempt_at = now + timedelta(seconds=delay)
