"""工作台: the signed-in person's organization's records, notifications, and what waits for them."""

from dataclasses import dataclass, field
from datetime import datetime
from typing import cast

from fastapi import APIRouter, Request
from fastapi.responses import Response
from sqlalchemy.orm import Session

from app.auth import Principal
from app.brokerage import service as brokerage
from app.brokerage.status import ACTIVE as ACTIVE_ENTRIES
from app.catalog.codes import COOPERATION_MODES
from app.dependencies import SessionDep
from app.interests import service as interests
from app.listings import service as listings
from app.listings.schemas import ListingQuery
from app.notifications import service as notifications
from app.notifications.schemas import NotificationQuery
from app.proposals import service as proposals
from app.proposals.status import OPEN as OPEN_PROPOSALS
from app.web.auth import WebUserDep
from app.web.sides import WEB_SIDES
from app.web.templating import render

router = APIRouter()
RECENT = 10
# Where each waiting proposal or shortlist entry stands, in the words of the home page.
PROPOSAL_STAGES = {"submitted": "待审核", "shortlisted": "已入围，待决定"}
ENTRY_STAGES = {"suggested": "待联系", "contacted": "已联系", "negotiating": "洽谈中"}
assert set(PROPOSAL_STAGES) == set(OPEN_PROPOSALS) and set(ENTRY_STAGES) == set(ACTIVE_ENTRIES)


@dataclass(frozen=True)
class Waiting:
    """One thing waiting for the person: what it is, the page to act from, its stage, since when."""

    text: str
    link: str
    since: datetime | None
    stage: str = ""


@dataclass(frozen=True)
class WaitingGroup:
    key: str
    title: str
    items: list[Waiting] = field(default_factory=list)


def waiting_for(session: Session, principal: Principal) -> list[WaitingGroup]:
    """What the person's role lets them act on now, from each domain's own list of it.

    Each item links to the page where it is acted on: a demand's 揭榜管理 for proposals and
    milestones, the achievement for interests, the 对接清单 entry for a broker's pair.
    """
    return [
        WaitingGroup("proposals", "待审核的揭榜申请", [
            Waiting(f"需求「{demand.title}」的揭榜申请 {proposal.id}（挂帅人 {proposal.lead.get('name', '—')}）",
                    f"/web/demands/{demand.id}/proposals#proposal-{proposal.id}", proposal.created_at,
                    PROPOSAL_STAGES[proposal.status])
            for proposal, demand in proposals.get_to_review(session, actor=principal)
        ]),
        WaitingGroup("milestones", "待验收的里程碑", [
            Waiting(f"需求「{demand.title}」的里程碑 {milestone.number}「{milestone.title}」已报告完成",
                    f"/web/demands/{demand.id}/proposals", milestone.reported_at, "待验收")
            for milestone, _, demand in proposals.get_milestones_to_accept(session, actor=principal)
        ]),
        WaitingGroup("interests", "待答复的合作意向", [
            Waiting(f"成果「{achievement.title}」的合作意向 {interest.id}（{COOPERATION_MODES.get(interest.mode, interest.mode)}）",
                    f"/web/achievements/{achievement.id}", interest.created_at, "待答复")
            for interest, achievement in interests.get_to_answer(session, actor=principal)
        ]),
        WaitingGroup("shortlist", "对接清单中进行中的配对", [
            Waiting(f"需求「{demand.title}」与成果「{achievement.title}」（对接清单 {entry.id}）",
                    f"/web/brokerage/{entry.id}", entry.updated_at, ENTRY_STAGES[entry.status])
            for entry, demand, achievement in brokerage.get_to_work_on(session, actor=principal)
        ]),
    ]


@router.get("/", name="home")
def home(request: Request, web_user: WebUserDep, session: SessionDep) -> Response:
    principal = web_user.principal
    records = {}
    for side, spec in WEB_SIDES.items():
        query = cast(ListingQuery, spec.query(owner_org_id=principal.org_id, size=RECENT))
        records[side] = listings.get_page(session, model=spec.model, query=query, actor=principal)
    notices, unread = notifications.get_page(session, query=NotificationQuery(unread=True, size=RECENT), actor=principal)
    waiting = waiting_for(session, principal)
    context = {"records": records, "notices": notices, "unread": unread, "waiting": waiting,
               "waiting_total": sum(len(group.items) for group in waiting)}
    return render(request, "home.html", context)
