"""The outboxes' retry rule (app/retry.py): a doubling backoff up to its cap, then giving up."""

from app.retry import retry_delay


def test_the_backoff_doubles_from_the_first_failure_up_to_its_cap_and_ends_at_the_last_attempt():
    delays = [retry_delay(attempts, max_attempts=6, backoff_seconds=10, backoff_max_seconds=50) for attempts in range(1, 8)]
    assert delays == [10, 20, 40, 50, 50, None, None]
