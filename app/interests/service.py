"""Registering, listing and answering interests (意向) in achievements."""

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.achievements.models import Achievement
from app.auth import Principal
from app.database import lock_row, utcnow
from app.errors import Conflict, Forbidden, InvalidInput, NotFound
from app.history import service as history
from app.interests.models import Interest
from app.interests.schemas import InterestCreate
from app.interests.status import INTEREST
from app.listings import service as listings
from app.notifications.service import notify


def _label(achievement: Achievement) -> str:
    return f"成果 {achievement.id}「{achievement.title}」"


def is_visible(interest: Interest, achievement: Achievement, actor: Principal) -> bool:
    """The achievement's organization and admins see every interest; the interested org its own."""
    return actor.is_admin or actor.org_id in (achievement.owner_org_id, interest.org_id)


def get_visible_or_raise(session: Session, *, interest_id: int, actor: Principal, lock: bool = False) -> tuple[Interest, Achievement]:
    """(interest, its achievement), or 404; `lock` (every answer) checks the current row under a lock."""
    interest = lock_row(session, Interest, interest_id) if lock else session.get(Interest, interest_id)
    achievement = session.get(Achievement, interest.achievement_id) if interest else None
    if interest is None or achievement is None or not is_visible(interest, achievement, actor):
        raise NotFound(f"interest {interest_id} does not exist", ["path", "interest_id"])
    return interest, achievement


REGISTRANTS = ("owner",)
"""Roles that register interest in achievements for their organization."""


def may_register(achievement: Achievement, actor: Principal) -> bool:
    """Whether `register` would take the caller's interest on its role, organization and the achievement's state."""
    return actor.role in REGISTRANTS and achievement.owner_org_id != actor.org_id and achievement.status == "published"


def register(session: Session, *, achievement: Achievement, data: InterestCreate, actor: Principal) -> Interest:
    """An organization registers interest in a published achievement of another organization."""
    actor.require_role(*REGISTRANTS, action="register interest in achievements")
    if achievement.owner_org_id == actor.org_id:
        raise Forbidden("an organization cannot register interest in its own achievement")
    if achievement.status != "published":
        raise Conflict(
            f"achievement {achievement.id} is {achievement.status!r}; interest is taken only while it is 'published'",
            ["path", "achievement_id"],
        )
    if achievement.transfer_modes and data.mode not in achievement.transfer_modes:
        raise InvalidInput(
            f"achievement {achievement.id} is offered only by {', '.join(achievement.transfer_modes)}, not {data.mode}; "
            "ask for one of those modes",
            ["body", "mode"],
        )
    existing = session.scalar(
        select(Interest.id).where(Interest.achievement_id == achievement.id, Interest.org_id == actor.org_id, Interest.status == "pending")
    )
    if existing is not None:
        raise Conflict(
            f"your organization's interest {existing} in achievement {achievement.id} is still pending", ["path", "achievement_id"]
        )
    interest = Interest(achievement_id=achievement.id, org_id=actor.org_id, mode=data.mode, message=data.message, status="pending")
    session.add(interest)
    session.flush()
    history.record(
        session, entity_type="interest", entity_id=interest.id, action="create",
        changes={"achievement_id": achievement.id, "mode": data.mode, "message": data.message}, actor=actor,
    )
    notify(
        session, org_id=achievement.owner_org_id, kind="interest_received", entity_type="interest", entity_id=interest.id,
        message=f"{_label(achievement)}收到新的合作意向 {interest.id}",
    )
    return interest


def get_for_achievement(session: Session, *, achievement: Achievement, actor: Principal) -> list[Interest]:
    """The interests in `achievement` the caller may see, oldest first."""
    statement = select(Interest).where(Interest.achievement_id == achievement.id).order_by(Interest.id)
    if not (actor.is_admin or actor.org_id == achievement.owner_org_id):
        statement = statement.where(Interest.org_id == actor.org_id)
    return list(session.scalars(statement))


def get_own(session: Session, *, actor: Principal) -> list[Interest]:
    """The interests the caller's organization registered, newest first."""
    return list(session.scalars(select(Interest).where(Interest.org_id == actor.org_id).order_by(Interest.id.desc())))


def get_to_answer(session: Session, *, actor: Principal) -> list[tuple[Interest, Achievement]]:
    """Pending interests in the caller's organization's achievements, oldest first: each waits for
    its owners to accept or decline it. Empty for those who cannot answer (readers, brokers)."""
    if not actor.can_manage(actor.org_id):
        return []
    rows = session.execute(
        select(Interest, Achievement)
        .join(Achievement, Interest.achievement_id == Achievement.id)
        .where(Achievement.owner_org_id == actor.org_id, Interest.status == "pending")
        .order_by(Interest.id)
    )
    return [(interest, achievement) for interest, achievement in rows]


def _move(session: Session, interest: Interest, target: str, reply: str, actor: Principal) -> None:
    INTEREST.check(interest.status, target)
    history.record(
        session, entity_type="interest", entity_id=interest.id, action="status",
        changes={"status": {"old": interest.status, "new": target}, "reply": reply}, actor=actor,
    )
    interest.status = target
    interest.reply = reply
    interest.decided_at = utcnow()


def answer(session: Session, *, interest: Interest, achievement: Achievement, target: str, reply: str, actor: Principal) -> Interest:
    """The achievement's owner accepts or declines; the interested organization is told."""
    if not actor.can_manage(achievement.owner_org_id):
        raise Forbidden(f"only the owner of achievement {achievement.id} or an admin may answer interest {interest.id}")
    _move(session, interest, target, reply, actor)
    words = {"accepted": "已被接受", "declined": "已被婉拒"}
    notify(
        session, org_id=interest.org_id, kind=f"interest_{target}", entity_type="interest", entity_id=interest.id,
        message=f"您对{_label(achievement)}的合作意向 {interest.id} {words[target]}" + (f"：{reply}" if reply else ""),
    )
    session.flush()
    return interest


def withdraw(session: Session, *, interest: Interest, actor: Principal, reason: str = "") -> Interest:
    """The interested organization takes its pending interest back."""
    if not actor.can_manage(interest.org_id):
        raise Forbidden(f"only the interested organization may withdraw interest {interest.id}")
    _move(session, interest, "withdrawn", reason, actor)
    session.flush()
    return interest


def get_achievement_or_raise(session: Session, *, achievement_id: int, actor: Principal) -> Achievement:
    return listings.get_visible_or_raise(session, model=Achievement, record_id=achievement_id, actor=actor)
