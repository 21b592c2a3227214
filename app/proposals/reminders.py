"""Milestone reminders: the winner hears before a milestone falls due, both parties when it is overdue.

Nothing happens on a due date by itself, so a periodic scan compares each open milestone's date
with today in China: `milestone_reminder_days` before it, the winner is told the milestone is
due (`milestone_due`); once the date has passed without a report, the winner and the demand owner
are told it is overdue (`milestone_overdue`). Each notice is stamped on the milestone in the same
transaction as its notification, and rows are claimed with SKIP LOCKED, so every notice goes out
once however many passes or service processes run.
"""

import logging
from datetime import date, timedelta

from sqlalchemy import and_, or_, select
from sqlalchemy.orm import Session, sessionmaker

from app.background import PeriodicWorker
from app.clock import china_today
from app.config import Settings
from app.database import session_scope, utcnow
from app.demands.models import Demand
from app.notifications.service import notify
from app.proposals.models import Milestone, Proposal
from app.proposals.service import demand_label
from app.proposals.status import AWAITING_REPORT

log = logging.getLogger("techmatch.reminders")
BATCH = 500


def send_due_notices(session: Session, *, today: date, lead_days: int) -> int:
    """Notify every milestone that became due or overdue since the last scan; returns how many milestones."""
    horizon = today + timedelta(days=lead_days)
    rows = session.execute(
        select(Milestone, Proposal.org_id, Demand)
        .join(Proposal, Milestone.proposal_id == Proposal.id)
        .join(Demand, Proposal.demand_id == Demand.id)
        .where(
            Milestone.status.in_(AWAITING_REPORT),
            Proposal.status == "awarded",
            Demand.status == "in_progress",
            or_(
                and_(Milestone.due_notice_at.is_(None), Milestone.due_date <= horizon),
                and_(Milestone.overdue_notice_at.is_(None), Milestone.due_date < today),
            ),
        )
        .order_by(Milestone.id)
        .limit(BATCH)
        .with_for_update(of=Milestone, skip_locked=True)
    ).all()
    now = utcnow()
    for milestone, winner_org_id, demand in rows:
        label = f"{demand_label(demand)}的里程碑 {milestone.number}「{milestone.title}」"
        if milestone.due_date < today:
            for org_id in (winner_org_id, demand.owner_org_id):
                notify(
                    session, org_id=org_id, kind="milestone_overdue", entity_type="proposal", entity_id=milestone.proposal_id,
                    message=f"{label}已于 {milestone.due_date.isoformat()} 到期，尚未报告完成",
                )
            milestone.overdue_notice_at = now
            milestone.due_notice_at = milestone.due_notice_at or now  # overdue says more than due
        else:
            left = (milestone.due_date - today).days
            notify(
                session, org_id=winner_org_id, kind="milestone_due", entity_type="proposal", entity_id=milestone.proposal_id,
                message=f"{label}将于 {milestone.due_date.isoformat()} 到期（还有 {left} 天），请按期报告",
            )
            milestone.due_notice_at = now
    session.flush()
    return len(rows)


class MilestoneReminders(PeriodicWorker):
    """Runs the scan every `milestone_check_seconds`, a batch per transaction."""

    name = "milestone-reminders"

    def __init__(self, session_factory: sessionmaker[Session], settings: Settings):
        super().__init__(settings.milestone_check_seconds, log)
        self.session_factory = session_factory
        self.lead_days = settings.milestone_reminder_days

    def run_once(self, today: date | None = None) -> int:
        today = today or china_today()
        notified = 0
        while not self.stopping:
            with session_scope(self.session_factory) as session:
                batch = send_due_notices(session, today=today, lead_days=self.lead_days)
            notified += batch
            if batch < BATCH:
                break
        if notified:
            log.info("notified %d due or overdue milestones for %s", notified, today.isoformat())
        return notified
