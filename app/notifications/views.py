"""Routes for notifications: /api/v1/notifications."""

from typing import Annotated

from fastapi import APIRouter, Query

from app.dependencies import PrincipalDep, SessionDep
from app.notifications import service
from app.notifications.schemas import NotificationQuery, NotificationRead
from app.schemas import Id, Page

router = APIRouter(prefix="/notifications", tags=["notifications"])


@router.get("", response_model=Page[NotificationRead], summary="The caller's organization's notifications, newest first")
def list_notifications(query: Annotated[NotificationQuery, Query()], session: SessionDep, principal: PrincipalDep):
    items, total = service.get_page(session, query=query, actor=principal)
    return {"items": items, "total": total, "page": query.page, "size": query.size}


@router.post("/{notification_id}/read", response_model=NotificationRead, summary="Mark one notification read")
def mark_read(notification_id: Id, session: SessionDep, principal: PrincipalDep):
    return service.mark_read(session, notification_id=notification_id, actor=principal)
