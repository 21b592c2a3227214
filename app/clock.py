"""China time: the calendar deadlines, due dates and reporting periods are written in."""

from datetime import date, datetime, timedelta, timezone

CHINA_TZ = timezone(timedelta(hours=8))


def china_today() -> date:
    """Today on the China calendar."""
    return datetime.now(CHINA_TZ).date()
