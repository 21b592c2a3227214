"""Writing, listing and reading notifications.

`notify` adds its row in the caller's transaction, so an event and its notification are
committed together or not at all; so is the outbox row that carries it to the organization's
webhook, if it registered one.
"""

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from app.auth import Principal
from app.database import utcnow
from app.errors import NotFound
from app.notifications.kinds import KINDS
from app.notifications.models import Notification
from app.notifications.schemas import NotificationQuery
from app.webhooks.service import enqueue


def notify(
    session: Session, *, org_id: int, kind: str, message: str, entity_type: str, entity_id: int, data: dict | None = None,
) -> Notification:
    """Tell organization `org_id` about an event on one record; `data` carries its facts for programs
    (a match's pair and relevance), in the notification and in the webhook body alike."""
    if kind not in KINDS:
        raise ValueError(f"unknown notification kind {kind!r}: declare it in app/notifications/kinds.py")
    notification = Notification(
        org_id=org_id, kind=kind, message=message, entity_type=entity_type, entity_id=entity_id, data=data
    )
    session.add(notification)
    enqueue(session, notification)
    return notification


def get_page(session: Session, *, query: NotificationQuery, actor: Principal) -> tuple[list[Notification], int]:
    """The caller's organization's notifications, newest first; returns (items, total)."""
    statement = select(Notification).where(Notification.org_id == actor.org_id)
    if query.unread is not None:
        statement = statement.where(Notification.read_at.is_(None) if query.unread else Notification.read_at.is_not(None))
    total = session.execute(select(func.count()).select_from(statement.subquery())).scalar_one()
    statement = statement.order_by(Notification.id.desc()).offset((query.page - 1) * query.size).limit(query.size)
    return list(session.scalars(statement)), total


def mark_read(session: Session, *, notification_id: int, actor: Principal) -> Notification:
    """Mark one of the caller's organization's notifications read (again is harmless)."""
    notification = session.get(Notification, notification_id)
    if notification is None or notification.org_id != actor.org_id:
        raise NotFound(f"notification {notification_id} does not exist", ["path", "notification_id"])
    if notification.read_at is None:
        notification.read_at = utcnow()
    session.flush()
    return notification
