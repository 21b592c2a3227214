"""The proposal and milestone tables."""

from datetime import date, datetime

from sqlalchemy import (
    JSON,
    BigInteger,
    ForeignKey,
    Index,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.database import Base, UTCDateTime, utcnow
from app.proposals.status import ACTIVE
from app.states import status_in

_ACTIVE_SQL = status_in(ACTIVE)


class Proposal(Base):
    """A 揭榜方案: one organization's application to solve one demand.

    At most one active proposal per organization and demand (a partial unique index backs the
    service's check). The winner's `pledge` is its 军令状: deliverables, amount and milestones.
    """

    __tablename__ = "proposals"
    __table_args__ = (
        Index(
            "uq_proposals_active_per_org",
            "demand_id",
            "org_id",
            unique=True,
            sqlite_where=_ACTIVE_SQL,
            postgresql_where=_ACTIVE_SQL,
        ),
    )
    entity_type = "proposal"

    id: Mapped[int] = mapped_column(primary_key=True)
    demand_id: Mapped[int] = mapped_column(ForeignKey("demands.id", ondelete="CASCADE"), index=True)
    org_id: Mapped[int] = mapped_column(ForeignKey("organizations.id"), index=True)
    status: Mapped[str] = mapped_column(String(12), index=True)
    technical_approach: Mapped[str] = mapped_column(Text)
    lead: Mapped[dict] = mapped_column(JSON)
    team: Mapped[list[dict]] = mapped_column(JSON, default=list)
    budget: Mapped[int | None] = mapped_column(BigInteger)
    schedule: Mapped[list[dict]] = mapped_column(JSON, default=list)
    achievement_ids: Mapped[list[int]] = mapped_column(JSON, default=list)
    attachments: Mapped[list[dict]] = mapped_column(JSON, default=list)
    decision_reason: Mapped[str] = mapped_column(String(500), default="")
    pledge: Mapped[dict | None] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    decided_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    milestones: Mapped[list["Milestone"]] = relationship(
        back_populates="proposal", order_by="Milestone.number", cascade="all, delete-orphan"
    )


class Milestone(Base):
    """One milestone of the winner's 军令状, numbered from 1 in the order of the pledge.

    `due_notice_at` / `overdue_notice_at` record when the reminder scan told the parties, so
    each notice goes out once.
    """

    __tablename__ = "milestones"
    __table_args__ = (UniqueConstraint("proposal_id", "number", name="uq_milestones_proposal_number"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    proposal_id: Mapped[int] = mapped_column(ForeignKey("proposals.id", ondelete="CASCADE"))
    number: Mapped[int]
    title: Mapped[str] = mapped_column(String(200))
    due_date: Mapped[date]
    status: Mapped[str] = mapped_column(String(12))
    report: Mapped[str] = mapped_column(Text, default="")
    return_reason: Mapped[str] = mapped_column(String(500), default="")
    reported_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    accepted_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    due_notice_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    overdue_notice_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    proposal: Mapped[Proposal] = relationship(back_populates="milestones")
