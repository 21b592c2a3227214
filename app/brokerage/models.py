"""The broker assignment, shortlist, contact record and match feedback tables."""

from datetime import date, datetime

from sqlalchemy import JSON, Float, ForeignKey, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.brokerage.status import ACTIVE
from app.database import Base, UTCDateTime, utcnow
from app.states import status_in

_ACTIVE_SQL = status_in(ACTIVE)


class BrokerAssignment(Base):
    """委托: a broker organization works for a client organization, set by an admin.

    Brokers of an organization whose `broker_scope` is `assigned` act only for the organizations
    assigned to it; the province's own brokers (`province`) act for every organization.
    """

    __tablename__ = "broker_assignments"
    __table_args__ = (UniqueConstraint("broker_org_id", "org_id", name="uq_broker_assignments_pair"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    broker_org_id: Mapped[int] = mapped_column(ForeignKey("organizations.id"), index=True)
    org_id: Mapped[int] = mapped_column(ForeignKey("organizations.id"), index=True)
    note: Mapped[str] = mapped_column(String(500), default="")
    created_by_key_id: Mapped[int | None]
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class ShortlistEntry(Base):
    """One pair on a broker organization's 对接清单: a demand, an achievement that may solve it.

    At most one active entry per pair and broker organization (a partial unique index backs the
    service's check). The stage timestamps let the statistics count how far pairs got, dropped
    ones included.
    """

    __tablename__ = "shortlist_entries"
    __table_args__ = (
        Index(
            "uq_shortlist_active_per_broker",
            "broker_org_id",
            "demand_id",
            "achievement_id",
            unique=True,
            sqlite_where=_ACTIVE_SQL,
            postgresql_where=_ACTIVE_SQL,
        ),
    )
    entity_type = "shortlist_entry"

    id: Mapped[int] = mapped_column(primary_key=True)
    broker_org_id: Mapped[int] = mapped_column(ForeignKey("organizations.id"), index=True)
    demand_id: Mapped[int] = mapped_column(ForeignKey("demands.id", ondelete="CASCADE"), index=True)
    achievement_id: Mapped[int] = mapped_column(ForeignKey("achievements.id", ondelete="CASCADE"), index=True)
    status: Mapped[str] = mapped_column(String(16), index=True)
    source: Mapped[str] = mapped_column(String(8))  # match | manual
    match_score: Mapped[float | None] = mapped_column(Float)
    match_rank: Mapped[int | None]
    note: Mapped[str] = mapped_column(Text, default="")
    drop_reason: Mapped[str] = mapped_column(String(500), default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    contacted_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    negotiating_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    contacts: Mapped[list["ContactRecord"]] = relationship(
        back_populates="entry", order_by="ContactRecord.id", cascade="all, delete-orphan"
    )


class ContactRecord(Base):
    """对接记录: one contact between the parties of a pair, appended, never changed."""

    __tablename__ = "contact_records"

    id: Mapped[int] = mapped_column(primary_key=True)
    entry_id: Mapped[int] = mapped_column(ForeignKey("shortlist_entries.id", ondelete="CASCADE"), index=True)
    contact_date: Mapped[date]
    parties: Mapped[list[str]] = mapped_column(JSON, default=list)
    channel: Mapped[str] = mapped_column(String(12))
    notes: Mapped[str] = mapped_column(Text, default="")
    recorded_by_key_id: Mapped[int | None]
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    entry: Mapped[ShortlistEntry] = relationship(back_populates="contacts")


class MatchFeedback(Base):
    """A broker's verdict on a suggested match: the ground truth for tuning the ranking later.

    Keeps the score and rank the broker saw, so a verdict can be compared with the ranking of its day.
    """

    __tablename__ = "match_feedback"
    __table_args__ = (Index("ix_match_feedback_pair", "demand_id", "achievement_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    broker_org_id: Mapped[int] = mapped_column(ForeignKey("organizations.id"), index=True)
    demand_id: Mapped[int] = mapped_column(ForeignKey("demands.id", ondelete="CASCADE"))
    achievement_id: Mapped[int] = mapped_column(ForeignKey("achievements.id", ondelete="CASCADE"))
    useful: Mapped[bool] = mapped_column(index=True)
    reason: Mapped[str] = mapped_column(String(500), default="")
    match_score: Mapped[float | None] = mapped_column(Float)
    match_rank: Mapped[int | None]
    recorded_by_key_id: Mapped[int | None]
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
