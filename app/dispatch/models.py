"""The dispatcher's tables: its cursor, the pairs it announced, digest items and mails, opt-outs, saved searches."""

from datetime import date, datetime

from sqlalchemy import JSON, Float, ForeignKey, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from app.database import Base, UTCDateTime, utcnow

CURSOR_ID = 1
# A digest mail's states: waiting (or being sent), taken by the server, given up after the last attempt.
MAIL_PENDING, MAIL_SENT, MAIL_FAILED = "pending", "sent", "failed"


class DispatchCursor(Base):
    """One row: the change-log position up to which every change has been matched and announced.

    It moves in the same transaction as the notifications of the changes it passes, so a crash
    neither announces a change twice nor skips one.
    """

    __tablename__ = "dispatch_cursor"

    id: Mapped[int] = mapped_column(primary_key=True)
    seq: Mapped[int] = mapped_column(default=0)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class AnnouncedMatch(Base):
    """A demand–achievement pair already announced (as a notice or in a digest): never again."""

    __tablename__ = "announced_matches"
    __table_args__ = (UniqueConstraint("demand_id", "achievement_id", name="uq_announced_matches_pair"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    demand_id: Mapped[int] = mapped_column(ForeignKey("demands.id", ondelete="CASCADE"))
    achievement_id: Mapped[int] = mapped_column(ForeignKey("achievements.id", ondelete="CASCADE"), index=True)
    relevance: Mapped[float] = mapped_column(Float)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class DigestItem(Base):
    """One pair waiting for an organization's daily digest (`day` on the China calendar).

    `reason`: `import` (found while a bulk import ran) or `cap` (beyond the day's notice cap).
    Deleted when the digest that lists it is sent.
    """

    __tablename__ = "digest_items"
    __table_args__ = (
        UniqueConstraint("org_id", "demand_id", "achievement_id", name="uq_digest_items_pair"),
        Index("ix_digest_items_day", "day", "org_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    org_id: Mapped[int] = mapped_column(ForeignKey("organizations.id", ondelete="CASCADE"))
    day: Mapped[date]
    demand_id: Mapped[int] = mapped_column(ForeignKey("demands.id", ondelete="CASCADE"))
    achievement_id: Mapped[int] = mapped_column(ForeignKey("achievements.id", ondelete="CASCADE"))
    relevance: Mapped[float] = mapped_column(Float)
    reason: Mapped[str] = mapped_column(String(8))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class DispatchOptOut(Base):
    """An organization turned one dispatch kind off (no row: on)."""

    __tablename__ = "dispatch_opt_outs"

    org_id: Mapped[int] = mapped_column(ForeignKey("organizations.id", ondelete="CASCADE"), primary_key=True)
    kind: Mapped[str] = mapped_column(String(40), primary_key=True)


class SavedSearch(Base):
    """订阅检索: free text and filters over one list, run on a schedule, sending what is new.

    `covered_seq` is the change-log position its last run covered: the next run ranks only the
    records changed after it, so a run's cost follows what was published, not the list's size.
    """

    __tablename__ = "saved_searches"
    __table_args__ = (Index("ix_saved_searches_due", "next_run_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    org_id: Mapped[int] = mapped_column(ForeignKey("organizations.id", ondelete="CASCADE"), index=True)
    key_id: Mapped[int | None]
    name: Mapped[str] = mapped_column(String(200))
    target: Mapped[str] = mapped_column(String(20))
    text: Mapped[str] = mapped_column(String(2000))
    filters: Mapped[dict] = mapped_column(JSON, default=dict)
    frequency: Mapped[str] = mapped_column(String(12))
    min_band: Mapped[str] = mapped_column(String(10))
    covered_seq: Mapped[int] = mapped_column(default=0)
    next_run_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    last_run_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class SavedSearchHit(Base):
    """A record a saved search has already sent."""

    __tablename__ = "saved_search_hits"

    saved_search_id: Mapped[int] = mapped_column(ForeignKey("saved_searches.id", ondelete="CASCADE"), primary_key=True)
    record_id: Mapped[int] = mapped_column(primary_key=True)
    relevance: Mapped[float] = mapped_column(Float)
    sent_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class DigestRecipient(Base):
    """An address the organization's daily digest is mailed to (none: its contact e-mail)."""

    __tablename__ = "digest_recipients"

    org_id: Mapped[int] = mapped_column(ForeignKey("organizations.id", ondelete="CASCADE"), primary_key=True)
    email: Mapped[str] = mapped_column(String(200), primary_key=True)


class DigestMail(Base):
    """One digest's e-mail, written in the transaction that sends the digest, so it exists exactly once.

    `next_attempt_at` is also the claim: a worker pushes it past the send's timeout before
    sending, so no two workers send it at once, and `sent_at` is set as soon as the server took
    it; a mail is sent again only if its worker died between the server's answer and that write.
    """

    __tablename__ = "digest_mails"
    __table_args__ = (
        UniqueConstraint("notification_id", name="uq_digest_mails_notification_id"),
        Index("ix_digest_mails_due", "status", "next_attempt_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    org_id: Mapped[int] = mapped_column(ForeignKey("organizations.id", ondelete="CASCADE"), index=True)
    notification_id: Mapped[int] = mapped_column(ForeignKey("notifications.id", ondelete="CASCADE"))
    recipients: Mapped[list] = mapped_column(JSON)
    subject: Mapped[str] = mapped_column(String(200))
    text: Mapped[str] = mapped_column(Text)
    html: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(10), default=MAIL_PENDING)
    attempts: Mapped[int] = mapped_column(default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    last_error: Mapped[str] = mapped_column(String(500), default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
