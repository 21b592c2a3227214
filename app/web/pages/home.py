"""工作台: the signed-in person's organization's records, notifications, and what waits for them."""

from typing import cast

from fastapi import APIRouter, Request
from fastapi.responses import Response

from app.dependencies import SessionDep
from app.listings import service as listings
from app.listings.schemas import ListingQuery
from app.notifications import service as notifications
from app.notifications.schemas import NotificationQuery
from app.web.auth import WebUserDep
from app.web.sides import WEB_SIDES
from app.web.templating import render

router = APIRouter()
RECENT = 10


@router.get("/", name="home")
def home(request: Request, web_user: WebUserDep, session: SessionDep) -> Response:
    principal = web_user.principal
    records = {}
    for side, spec in WEB_SIDES.items():
        query = cast(ListingQuery, spec.query(owner_org_id=principal.org_id, size=RECENT))
        records[side] = listings.get_page(session, model=spec.model, query=query, actor=principal)
    notices, unread = notifications.get_page(session, query=NotificationQuery(unread=True, size=RECENT), actor=principal)
    return render(request, "home.html", {"records": records, "notices": notices, "unread": unread})
