"""The broker's workspace: shortlist entries, their stages and contact records, and match feedback.

A broker key pairs published records when it acts for at least one side's owner (the province's
own brokers act for everyone; an agency for the organizations assigned to it). An entry belongs
to the broker organization that created it: only its keys (and admins) move it or append
contacts; the two owners of the pair, and brokers acting for either, may read it.
"""

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.achievements.models import Achievement
from app.auth import Principal
from app.brokerage.models import ContactRecord, MatchFeedback, ShortlistEntry
from app.brokerage.schemas import (
    ContactCreate,
    FeedbackCreate,
    FeedbackQuery,
    ShortlistCreate,
    ShortlistQuery,
)
from app.brokerage.status import ACTIVE, SHORTLIST
from app.database import lock_row, utcnow
from app.demands.models import Demand
from app.errors import Conflict, Forbidden, NotFound
from app.history import service as history
from app.listings import service as listings
from app.notifications.service import notify

BROKERS = ("broker", "admin")
# The stage timestamp each move sets, for the statistics.
_STAGE_AT = {"contacted": "contacted_at", "negotiating": "negotiating_at", "contract_signed": "closed_at", "dropped": "closed_at"}


def _pair_label(demand: Demand, achievement: Achievement) -> str:
    return f"需求 {demand.id}「{demand.title}」与成果 {achievement.id}「{achievement.title}」"


def get_published_pair(session: Session, *, demand_id: int, achievement_id: int, actor: Principal) -> tuple[Demand, Achievement]:
    """(demand, achievement), both visible (404) and published (409): brokers work on the open lists only."""
    demand = listings.get_visible_or_raise(session, model=Demand, record_id=demand_id, actor=actor)
    achievement = listings.get_visible_or_raise(session, model=Achievement, record_id=achievement_id, actor=actor)
    for record, loc in ((demand, "demand_id"), (achievement, "achievement_id")):
        if record.status != "published":
            raise Conflict(f"{record.entity_type} {record.id} is {record.status!r}; brokers pair published records only", ["body", loc])
    return demand, achievement


def _owner_orgs(session: Session, entry: ShortlistEntry) -> tuple[int | None, int | None]:
    demand = session.get(Demand, entry.demand_id)
    achievement = session.get(Achievement, entry.achievement_id)
    return (demand.owner_org_id if demand else None), (achievement.owner_org_id if achievement else None)


def can_work_on(entry: ShortlistEntry, actor: Principal) -> bool:
    """The broker organization that owns the entry, and admins."""
    return actor.is_admin or (actor.role == "broker" and actor.org_id == entry.broker_org_id)


def _is_visible(session: Session, entry: ShortlistEntry, actor: Principal) -> bool:
    if can_work_on(entry, actor):
        return True
    owners = _owner_orgs(session, entry)
    return actor.org_id in owners or any(org_id is not None and actor.brokers_for(org_id) for org_id in owners)


def get_visible_or_raise(session: Session, *, entry_id: int, actor: Principal, lock: bool = False) -> ShortlistEntry:
    """The entry, or 404 unless the caller is its broker, an admin, owns one side, or brokers for an owner.

    `lock` (every change) checks the current row under a lock held until commit.
    """
    entry = lock_row(session, ShortlistEntry, entry_id) if lock else session.get(ShortlistEntry, entry_id)
    if entry is None or not _is_visible(session, entry, actor):
        raise NotFound(f"shortlist entry {entry_id} does not exist", ["path", "entry_id"])
    return entry


def may_build_shortlist(actor: Principal) -> bool:
    """Whether the caller's role builds shortlists (`create` then checks whom its organization acts for)."""
    return actor.role in BROKERS


def create(session: Session, *, data: ShortlistCreate, actor: Principal) -> ShortlistEntry:
    """Put a pair on the caller's organization's shortlist and tell both owners (broker_suggestion)."""
    actor.require_role(*BROKERS, action="build a shortlist")
    demand, achievement = get_published_pair(session, demand_id=data.demand_id, achievement_id=data.achievement_id, actor=actor)
    if not (actor.is_admin or actor.brokers_for(demand.owner_org_id) or actor.brokers_for(achievement.owner_org_id)):
        raise Forbidden(
            f"your broker organization is assigned to neither organization {demand.owner_org_id} (the demand's owner) "
            f"nor organization {achievement.owner_org_id} (the achievement's owner)"
        )
    existing = session.scalar(
        select(ShortlistEntry.id).where(
            ShortlistEntry.broker_org_id == actor.org_id,
            ShortlistEntry.demand_id == demand.id,
            ShortlistEntry.achievement_id == achievement.id,
            ShortlistEntry.status.in_(ACTIVE),
        )
    )
    if existing is not None:
        raise Conflict(f"this pair is already on your shortlist as entry {existing}", ["body", "achievement_id"])
    from_match = data.match_score is not None or data.match_rank is not None
    entry = ShortlistEntry(
        broker_org_id=actor.org_id, demand_id=demand.id, achievement_id=achievement.id, status="suggested",
        source="match" if from_match else "manual", match_score=data.match_score, match_rank=data.match_rank, note=data.note,
    )
    session.add(entry)
    session.flush()
    history.record(session, entity_type=entry.entity_type, entity_id=entry.id, action="create", changes=data.model_dump(), actor=actor)
    label = _pair_label(demand, achievement)
    for org_id in dict.fromkeys((demand.owner_org_id, achievement.owner_org_id)):
        notify(
            session, org_id=org_id, kind="broker_suggestion", entity_type=entry.entity_type, entity_id=entry.id,
            message=f"技术经纪人建议对接{label}（对接清单 {entry.id}）",
        )
    session.flush()
    return entry


def get_all(session: Session, *, query: ShortlistQuery, actor: Principal) -> list[ShortlistEntry]:
    """Brokers: their organization's entries; admins: all; owners: the entries on their records. Newest first."""
    statement = select(ShortlistEntry)
    if actor.role == "broker":
        statement = statement.where(ShortlistEntry.broker_org_id == actor.org_id)
    elif not actor.is_admin:
        own_demands = select(Demand.id).where(Demand.owner_org_id == actor.org_id)
        own_achievements = select(Achievement.id).where(Achievement.owner_org_id == actor.org_id)
        statement = statement.where(ShortlistEntry.demand_id.in_(own_demands) | ShortlistEntry.achievement_id.in_(own_achievements))
    for name in ("status", "demand_id", "achievement_id"):
        value = getattr(query, name)
        if value is not None:
            statement = statement.where(getattr(ShortlistEntry, name) == value)
    return list(session.scalars(statement.order_by(ShortlistEntry.id.desc())))


def get_to_work_on(session: Session, *, actor: Principal) -> list[tuple[ShortlistEntry, Demand, Achievement]]:
    """A broker's organization's active entries (suggested, contacted, negotiating), the least
    recently moved first: each waits for its next contact, stage or drop. Empty for other roles."""
    if actor.role != "broker":
        return []
    rows = session.execute(
        select(ShortlistEntry, Demand, Achievement)
        .join(Demand, ShortlistEntry.demand_id == Demand.id)
        .join(Achievement, ShortlistEntry.achievement_id == Achievement.id)
        .where(ShortlistEntry.broker_org_id == actor.org_id, ShortlistEntry.status.in_(ACTIVE))
        .order_by(ShortlistEntry.updated_at, ShortlistEntry.id)
    )
    return [(entry, demand, achievement) for entry, demand, achievement in rows]


def _require_worker(entry: ShortlistEntry, actor: Principal, verb: str) -> None:
    if not can_work_on(entry, actor):
        raise Forbidden(f"only the broker organization of shortlist entry {entry.id} or an admin may {verb} it")


def move(session: Session, *, entry: ShortlistEntry, target: str, reason: str, actor: Principal, **extra) -> ShortlistEntry:
    """Move the entry along the table; `contract_signed` only with a contract (`extra` names it)."""
    _require_worker(entry, actor, "move")
    SHORTLIST.check(entry.status, target)
    if target == "contract_signed" and "contract_id" not in extra:
        raise Conflict(f"shortlist entry {entry.id} is signed by recording its contract: POST /api/v1/contracts", ["body", "status"])
    history.record(
        session, entity_type=entry.entity_type, entity_id=entry.id, action="status",
        changes={"status": {"old": entry.status, "new": target}, "reason": reason, **extra}, actor=actor,
    )
    entry.status = target
    entry.updated_at = utcnow()
    setattr(entry, _STAGE_AT[target], entry.updated_at)
    if target == "dropped":
        entry.drop_reason = reason
    session.flush()
    return entry


def add_contact(session: Session, *, entry: ShortlistEntry, data: ContactCreate, actor: Principal) -> ContactRecord:
    """Append one 对接记录 to the entry, at any stage (talks go on after signing, too)."""
    _require_worker(entry, actor, "record contacts on")
    record = ContactRecord(entry=entry, recorded_by_key_id=actor.key_id, **data.model_dump())
    session.add(record)
    entry.updated_at = utcnow()
    session.flush()
    return record


def add_feedback(session: Session, *, data: FeedbackCreate, actor: Principal) -> MatchFeedback:
    """Store a broker's verdict on a match between two visible records."""
    actor.require_role(*BROKERS, action="give match feedback")
    listings.get_visible_or_raise(session, model=Demand, record_id=data.demand_id, actor=actor)
    listings.get_visible_or_raise(session, model=Achievement, record_id=data.achievement_id, actor=actor)
    feedback = MatchFeedback(broker_org_id=actor.org_id, recorded_by_key_id=actor.key_id, **data.model_dump())
    session.add(feedback)
    session.flush()
    return feedback


def get_feedback(session: Session, *, query: FeedbackQuery, actor: Principal) -> list[MatchFeedback]:
    """Every broker's feedback passing the filters, newest first: it is the province's ground truth."""
    actor.require_role(*BROKERS, action="read match feedback")
    statement = select(MatchFeedback)
    for name in ("useful", "demand_id", "achievement_id"):
        value = getattr(query, name)
        if value is not None:
            statement = statement.where(getattr(MatchFeedback, name) == value)
    return list(session.scalars(statement.order_by(MatchFeedback.id.desc())))
