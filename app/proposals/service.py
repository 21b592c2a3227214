"""The 揭榜 workflow on a demand: proposals, their review, the award, milestones and the outcome.

Every move checks who is acting (403), then the state tables (409 naming the current state and
the allowed next ones), then the rule at hand; it writes the change history and notifies the
party that must act next, all in the caller's transaction. The current date is a parameter
(`today`), so deadlines are checked against the calendar the caller chose.
"""

from datetime import date

from pydantic_core import to_jsonable_python
from sqlalchemy import select
from sqlalchemy.orm import Session

from app.achievements.models import Achievement
from app.auth import Principal
from app.database import lock_row, utcnow
from app.demands.models import Demand
from app.errors import Conflict, Forbidden, InvalidInput, NotFound
from app.history import service as history
from app.listings import service as listings
from app.listings.status import DEMAND
from app.notifications.service import notify
from app.organizations.models import Organization
from app.proposals.models import Milestone, Proposal
from app.proposals.schemas import Pledge, ProposalCreate
from app.proposals.status import ACTIVE, MILESTONE, OPEN, PROPOSAL

# Qualification flag → the organization kind it admits (several flags admit any of their kinds).
_QUALIFYING_KIND = {"high_tech_enterprise_only": "enterprise", "university_only": "university", "institute_only": "institute"}
# How a notification says a demand ended without an award.
_STATUS_WORDS = {"closed": "关闭", "withdrawn": "撤回"}
_CONTENT = ("technical_approach", "lead", "team", "budget", "schedule", "achievement_ids", "attachments")


def demand_label(demand: Demand) -> str:
    return f"需求 {demand.id}「{demand.title}」"


def can_review(demand: Demand, actor: Principal) -> bool:
    """The demand's owner (its `owner` keys), admins, and brokers acting for the owner."""
    return actor.can_manage(demand.owner_org_id) or actor.brokers_for(demand.owner_org_id)


def is_visible(proposal: Proposal, demand: Demand, actor: Principal) -> bool:
    """Whoever may review the demand's proposals sees them all; an applicant sees its own."""
    return can_review(demand, actor) or actor.org_id in (demand.owner_org_id, proposal.org_id)


def get_demand_or_raise(session: Session, *, demand_id: int, actor: Principal, lock: bool = False) -> Demand:
    """The demand, or 404 when missing or not visible; `lock` re-reads its row and holds it until commit."""
    demand = lock_row(session, Demand, demand_id) if lock else session.get(Demand, demand_id)
    if demand is None or not listings.is_visible(demand, actor):
        raise NotFound(f"demand {demand_id} does not exist", ["path", "demand_id"])
    return demand


def get_visible_or_raise(session: Session, *, proposal_id: int, actor: Principal, lock: bool = False) -> tuple[Proposal, Demand]:
    """(proposal, its demand), or 404 when the caller may not see the proposal.

    `lock` (every change) locks the demand's row, then the proposal's, always in that order so
    two requests never wait on each other: moves of one demand's proposals are serialised and
    each is checked against the current rows.
    """
    proposal = session.get(Proposal, proposal_id)
    if proposal is not None and lock:
        lock_row(session, Demand, proposal.demand_id)
        proposal = lock_row(session, Proposal, proposal_id)
    demand = session.get(Demand, proposal.demand_id) if proposal else None
    if proposal is None or demand is None or not is_visible(proposal, demand, actor):
        raise NotFound(f"proposal {proposal_id} does not exist", ["path", "proposal_id"])
    return proposal, demand


def get_for_demand(session: Session, *, demand: Demand, actor: Principal) -> list[Proposal]:
    """Every proposal to `demand` the caller may see, oldest first."""
    statement = select(Proposal).where(Proposal.demand_id == demand.id).order_by(Proposal.id)
    if not (can_review(demand, actor) or actor.org_id == demand.owner_org_id):
        statement = statement.where(Proposal.org_id == actor.org_id)
    return list(session.scalars(statement))


def get_own(session: Session, *, actor: Principal) -> list[Proposal]:
    """The caller's organization's proposals, newest first."""
    return list(session.scalars(select(Proposal).where(Proposal.org_id == actor.org_id).order_by(Proposal.id.desc())))


def get_to_review(session: Session, *, actor: Principal) -> list[tuple[Proposal, Demand]]:
    """Open proposals (submitted, shortlisted) on the caller's organization's published demands,
    oldest first: what its owners decide next. Empty for those who cannot decide (readers, brokers)."""
    if not actor.can_manage(actor.org_id):
        return []
    rows = session.execute(
        select(Proposal, Demand)
        .join(Demand, Proposal.demand_id == Demand.id)
        .where(Demand.owner_org_id == actor.org_id, Demand.status == "published", Proposal.status.in_(OPEN))
        .order_by(Proposal.id)
    )
    return [(proposal, demand) for proposal, demand in rows]


def get_milestones_to_accept(session: Session, *, actor: Principal) -> list[tuple[Milestone, Proposal, Demand]]:
    """Milestones the winner reported on the caller's organization's in-progress demands, oldest
    report first: each waits for its owners to accept or return it. Empty for those who cannot."""
    if not actor.can_manage(actor.org_id):
        return []
    rows = session.execute(
        select(Milestone, Proposal, Demand)
        .join(Proposal, Milestone.proposal_id == Proposal.id)
        .join(Demand, Proposal.demand_id == Demand.id)
        .where(
            Demand.owner_org_id == actor.org_id, Demand.status == "in_progress", Proposal.status == "awarded",
            Milestone.status == "reported",
        )
        .order_by(Milestone.reported_at, Milestone.id)
    )
    return [(milestone, proposal, demand) for milestone, proposal, demand in rows]


def _content(proposal: Proposal) -> dict:
    return to_jsonable_python({key: getattr(proposal, key) for key in _CONTENT})


def _check_open_for_applications(demand: Demand, today: date) -> None:
    if demand.status != "published":
        raise Conflict(
            f"demand {demand.id} is {demand.status!r}; proposals are accepted only while it is 'published'",
            ["path", "demand_id"],
        )
    if demand.application_deadline is not None and today > demand.application_deadline:
        raise Conflict(
            f"the application deadline of demand {demand.id} was {demand.application_deadline.isoformat()}",
            ["path", "demand_id"],
        )


def _check_qualified(session: Session, demand: Demand, org_id: int) -> None:
    flags = [flag for flag in _QUALIFYING_KIND if (demand.qualifications or {}).get(flag)]
    if not flags:
        return
    kinds = {_QUALIFYING_KIND[flag] for flag in flags}
    organization = session.get(Organization, org_id)
    if organization is None or organization.kind not in kinds:
        raise Forbidden(f"demand {demand.id} accepts proposals only from: {', '.join(sorted(kinds))} ({', '.join(flags)})")


def _check_own_achievements(session: Session, achievement_ids: list[int], org_id: int) -> None:
    owners = dict(session.execute(select(Achievement.id, Achievement.owner_org_id).where(Achievement.id.in_(achievement_ids))).all())
    for index, achievement_id in enumerate(achievement_ids):
        if owners.get(achievement_id) != org_id:
            raise InvalidInput(
                f"achievement {achievement_id} is not one of the applicant's own achievements", ["body", "achievement_ids", index]
            )


APPLICANTS = ("owner",)
"""Roles that apply to demands (揭榜) for their organization."""


def may_apply(demand: Demand, actor: Principal) -> bool:
    """Whether `submit` would take the caller's application on its role, organization and the demand's
    state: what a page asks before offering the form (the deadline and qualification are checked on submit)."""
    return actor.role in APPLICANTS and demand.owner_org_id != actor.org_id and demand.status == "published"


def submit(session: Session, *, demand: Demand, data: ProposalCreate, actor: Principal, today: date) -> Proposal:
    """揭榜: the caller's organization applies to a published demand before its application deadline."""
    actor.require_role(*APPLICANTS, action="apply to demands")
    if demand.owner_org_id == actor.org_id:
        raise Forbidden("an organization cannot apply to its own demand")
    _check_open_for_applications(demand, today)
    _check_qualified(session, demand, actor.org_id)
    existing = session.scalar(
        select(Proposal.id).where(Proposal.demand_id == demand.id, Proposal.org_id == actor.org_id, Proposal.status.in_(ACTIVE))
    )
    if existing is not None:
        raise Conflict(
            f"your organization already has an active proposal ({existing}) to demand {demand.id}; edit or withdraw it",
            ["path", "demand_id"],
        )
    _check_own_achievements(session, data.achievement_ids, actor.org_id)
    proposal = Proposal(demand_id=demand.id, org_id=actor.org_id, status="submitted", **data.model_dump(mode="json"))
    session.add(proposal)
    session.flush()
    history.record(session, entity_type="proposal", entity_id=proposal.id, action="create", changes=_content(proposal), actor=actor)
    notify(
        session, org_id=demand.owner_org_id, kind="proposal_submitted", entity_type="proposal", entity_id=proposal.id,
        message=f"{demand_label(demand)}收到新的揭榜申请 {proposal.id}",
    )
    return proposal


def _check_applicant_may_change(proposal: Proposal, demand: Demand, actor: Principal, today: date, verb: str) -> None:
    if not actor.can_manage(proposal.org_id):
        raise Forbidden(f"only the applying organization may {verb} proposal {proposal.id}")
    if proposal.status not in OPEN:
        raise Conflict(
            f"proposal {proposal.id} is {proposal.status!r}; only a submitted or shortlisted proposal can be changed",
            ["path", "proposal_id"],
        )
    if demand.application_deadline is not None and today > demand.application_deadline:
        raise Conflict(
            f"the application deadline of demand {demand.id} was {demand.application_deadline.isoformat()}; "
            f"proposal {proposal.id} can no longer be changed",
            ["path", "proposal_id"],
        )


def update(session: Session, *, proposal: Proposal, demand: Demand, data, actor: Principal, today: date) -> Proposal:
    """Apply the fields the applicant sent, until the application deadline."""
    _check_applicant_may_change(proposal, demand, actor, today, "edit")
    values = data.model_dump(mode="json", exclude_unset=True)
    if "achievement_ids" in values:
        _check_own_achievements(session, values["achievement_ids"], proposal.org_id)
    before = _content(proposal)
    for key, value in values.items():
        setattr(proposal, key, value)
    after = _content(proposal)
    changes = {key: {"old": before[key], "new": after[key]} for key in after if before[key] != after[key]}
    if changes:
        proposal.updated_at = utcnow()
        history.record(session, entity_type="proposal", entity_id=proposal.id, action="update", changes=changes, actor=actor)
    session.flush()
    return proposal


def _move(session: Session, proposal: Proposal, target: str, actor: Principal, *, reason: str = "", **extra) -> None:
    PROPOSAL.check(proposal.status, target)
    changes = {"status": {"old": proposal.status, "new": target}, "reason": reason, **extra}
    proposal.status = target
    proposal.updated_at = utcnow()
    if target != "withdrawn":
        proposal.decided_at = proposal.updated_at
        proposal.decision_reason = reason
    history.record(session, entity_type="proposal", entity_id=proposal.id, action="status", changes=changes, actor=actor)


def withdraw(session: Session, *, proposal: Proposal, demand: Demand, actor: Principal, today: date, reason: str = "") -> Proposal:
    """The applicant takes its proposal back, until the application deadline."""
    if not actor.can_manage(proposal.org_id):
        raise Forbidden(f"only the applying organization may withdraw proposal {proposal.id}")
    PROPOSAL.check(proposal.status, "withdrawn")
    _check_applicant_may_change(proposal, demand, actor, today, "withdraw")
    _move(session, proposal, "withdrawn", actor, reason=reason)
    session.flush()
    return proposal


def _require_reviewer(demand: Demand, actor: Principal, what: str) -> None:
    if not can_review(demand, actor):
        raise Forbidden(f"only the owner of demand {demand.id}, a broker acting for it or an admin may {what}")


def _check_demand_open_for_review(demand: Demand) -> None:
    if demand.status != "published":
        raise Conflict(
            f"demand {demand.id} is {demand.status!r}; proposals are reviewed only while it is 'published'",
            ["path", "proposal_id"],
        )


def shortlist(session: Session, *, proposal: Proposal, demand: Demand, actor: Principal) -> Proposal:
    """入围: the demand owner keeps the proposal in the running."""
    return _review(session, proposal, demand, actor, "shortlisted", message="已入围")


def reject(session: Session, *, proposal: Proposal, demand: Demand, reason: str, actor: Principal) -> Proposal:
    """The demand owner turns the proposal down, saying why."""
    return _review(session, proposal, demand, actor, "rejected", reason=reason, message=f"未通过：{reason}")


def _review(session: Session, proposal: Proposal, demand: Demand, actor: Principal, target: str, *, message: str, reason: str = ""):
    """One review decision short of an award, told to the applicant."""
    _require_reviewer(demand, actor, f"review proposal {proposal.id}")
    PROPOSAL.check(proposal.status, target)
    _check_demand_open_for_review(demand)
    _move(session, proposal, target, actor, reason=reason)
    notify(
        session, org_id=proposal.org_id, kind=f"proposal_{target}", entity_type="proposal", entity_id=proposal.id,
        message=f"您对{demand_label(demand)}的揭榜申请 {proposal.id} {message}",
    )
    session.flush()
    return proposal


def _resolve_pledge(proposal: Proposal, demand: Demand, pledge: Pledge) -> dict:
    deliverables = pledge.deliverables or demand.deliverables
    if not deliverables:
        raise InvalidInput("the demand names no deliverables: state them in the pledge", ["body", "deliverables"])
    amount = next((a for a in (pledge.amount, proposal.budget, demand.reward) if a is not None), None)
    if amount is None:
        raise InvalidInput("neither the proposal nor the demand names an amount: state it in the pledge", ["body", "amount"])
    milestones = [m.model_dump(mode="json") for m in pledge.milestones] if pledge.milestones else list(proposal.schedule)
    return {"deliverables": deliverables, "amount": amount, "milestones": milestones}


def award(session: Session, *, proposal: Proposal, demand: Demand, pledge: Pledge, actor: Principal) -> Proposal:
    """揭榜成功: the proposal wins, its 军令状 is recorded, the demand goes in_progress and the others are not selected."""
    _require_reviewer(demand, actor, f"award proposal {proposal.id}")
    PROPOSAL.check(proposal.status, "awarded")
    demand = get_demand_or_raise(session, demand_id=demand.id, actor=actor, lock=True)
    DEMAND.check(demand.status, "in_progress", ["path", "proposal_id"])
    terms = _resolve_pledge(proposal, demand, pledge)
    _move(session, proposal, "awarded", actor, pledge=terms)
    proposal.pledge = terms
    proposal.milestones = [
        Milestone(number=n, title=m["title"], due_date=date.fromisoformat(m["due_date"]), status="pending")
        for n, m in enumerate(terms["milestones"], start=1)
    ]
    listings.change_status(session, record=demand, target="in_progress", reason=f"proposal {proposal.id} awarded", actor=actor)
    notify(
        session, org_id=proposal.org_id, kind="proposal_awarded", entity_type="proposal", entity_id=proposal.id,
        message=f"您对{demand_label(demand)}的揭榜申请 {proposal.id} 已中选（揭榜成功）",
    )
    _release_open(session, demand, actor, reason=f"proposal {proposal.id} was awarded", message="已由其他方案揭榜")
    session.flush()
    return proposal


def release_open_proposals(session: Session, *, record: Demand, actor: Principal) -> None:
    """A demand closed or withdrawn without an award: its open proposals end `not_selected`, applicants told."""
    demand = record
    if demand.status in ("closed", "withdrawn"):
        _release_open(session, demand, actor, reason=f"demand {demand.status}", message=f"已{_STATUS_WORDS[demand.status]}")
        session.flush()


def _release_open(session: Session, demand: Demand, actor: Principal, *, reason: str, message: str) -> None:
    for other in session.scalars(select(Proposal).where(Proposal.demand_id == demand.id, Proposal.status.in_(OPEN))):
        _move(session, other, "not_selected", actor, reason=reason)
        notify(
            session, org_id=other.org_id, kind="proposal_not_selected", entity_type="proposal", entity_id=other.id,
            message=f"{demand_label(demand)}{message}，您的申请 {other.id} 未中选",
        )


def winner_of(session: Session, demand: Demand) -> Proposal | None:
    return session.scalar(select(Proposal).where(Proposal.demand_id == demand.id, Proposal.status == "awarded"))


def get_milestone_or_raise(proposal: Proposal, number: int) -> Milestone:
    for milestone in proposal.milestones:
        if milestone.number == number:
            return milestone
    raise NotFound(f"proposal {proposal.id} has no milestone {number}", ["path", "number"])


def _check_in_progress(demand: Demand) -> None:
    if demand.status != "in_progress":
        raise Conflict(
            f"demand {demand.id} is {demand.status!r}; milestones move only while it is 'in_progress'", ["path", "demand_id"]
        )


def _move_milestone(session: Session, proposal: Proposal, milestone: Milestone, target: str, actor: Principal, **extra) -> None:
    MILESTONE.check(milestone.status, target, ["path", "number"])
    changes = {"milestone": milestone.number, "status": {"old": milestone.status, "new": target}, **extra}
    milestone.status = target
    history.record(session, entity_type="proposal", entity_id=proposal.id, action="milestone", changes=changes, actor=actor)


def report_milestone(session: Session, *, proposal: Proposal, demand: Demand, number: int, report: str, actor: Principal) -> Milestone:
    """The winner reports a milestone done (again after a return)."""
    if not actor.can_manage(proposal.org_id):
        raise Forbidden(f"only the winner of demand {demand.id} may report its milestones")
    milestone = get_milestone_or_raise(proposal, number)
    _check_in_progress(demand)
    _move_milestone(session, proposal, milestone, "reported", actor, report=report)
    milestone.report = report
    milestone.reported_at = utcnow()
    notify(
        session, org_id=demand.owner_org_id, kind="milestone_reported", entity_type="proposal", entity_id=proposal.id,
        message=f"{demand_label(demand)}的揭榜方报告里程碑 {number}「{milestone.title}」已完成，请验收",
    )
    session.flush()
    return milestone


def accept_milestone(session: Session, *, proposal: Proposal, demand: Demand, number: int, actor: Principal) -> Milestone:
    """The demand owner accepts a reported milestone."""
    _require_reviewer(demand, actor, "accept its milestones")
    milestone = get_milestone_or_raise(proposal, number)
    _check_in_progress(demand)
    _move_milestone(session, proposal, milestone, "accepted", actor)
    milestone.accepted_at = utcnow()
    notify(
        session, org_id=proposal.org_id, kind="milestone_accepted", entity_type="proposal", entity_id=proposal.id,
        message=f"{demand_label(demand)}的里程碑 {number}「{milestone.title}」已通过验收",
    )
    session.flush()
    return milestone


def return_milestone(session: Session, *, proposal: Proposal, demand: Demand, number: int, reason: str, actor: Principal) -> Milestone:
    """The demand owner sends a reported milestone back, saying why."""
    _require_reviewer(demand, actor, "return its milestones")
    milestone = get_milestone_or_raise(proposal, number)
    _check_in_progress(demand)
    _move_milestone(session, proposal, milestone, "returned", actor, reason=reason)
    milestone.return_reason = reason
    notify(
        session, org_id=proposal.org_id, kind="milestone_returned", entity_type="proposal", entity_id=proposal.id,
        message=f"{demand_label(demand)}的里程碑 {number}「{milestone.title}」被退回：{reason}",
    )
    session.flush()
    return milestone


def finish_demand(session: Session, *, demand: Demand, target: str, reason: str, actor: Principal) -> Demand:
    """End an in-progress demand: `completed` (验收通过, every milestone accepted), `failed` or `terminated`."""
    actor.require_manage(demand.owner_org_id, f"demand {demand.id}")
    DEMAND.check(demand.status, target)
    winner = winner_of(session, demand)
    if target == "completed" and winner is not None:
        open_numbers = [str(m.number) for m in winner.milestones if m.status != "accepted"]
        if open_numbers:
            raise Conflict(
                f"demand {demand.id} cannot be completed: milestone(s) {', '.join(open_numbers)} not accepted yet",
                ["body", "status"],
            )
    listings.change_status(session, record=demand, target=target, reason=reason, actor=actor)
    if winner is not None:
        words = {"completed": "已验收通过", "failed": f"已判定失败：{reason}", "terminated": f"已终止：{reason}"}
        notify(
            session, org_id=winner.org_id, kind=f"demand_{target}", entity_type="demand", entity_id=demand.id,
            message=f"您揭榜的{demand_label(demand)}{words[target]}",
        )
    return demand
