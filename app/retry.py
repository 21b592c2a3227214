"""The retry rule of the service's outboxes (webhook messages, digest mails): after a failed
send, wait a backoff that doubles with each attempt up to a cap, and give up after a number of
attempts. Each outbox keeps its own settings and log lines."""

# A claim pushes the row's retry time this far past the send's timeout: if it passes, the worker that
# claimed it died, and the row is sent again.
CLAIM_MARGIN_SECONDS = 30


def retry_delay(attempts: int, *, max_attempts: int, backoff_seconds: float, backoff_max_seconds: float) -> float | None:
    """Seconds to wait after the `attempts`-th failed send (`backoff_seconds` after the first,
    doubled each time, at most `backoff_max_seconds`), or None once `max_attempts` is reached:
    the send has failed for good."""
    if attempts >= max_attempts:
        return None
    return min(backoff_seconds * 2 ** (attempts - 1), backoff_max_seconds)
