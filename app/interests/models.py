"""The interest table."""

from datetime import datetime

from sqlalchemy import ForeignKey, Index, String, Text, text
from sqlalchemy.orm import Mapped, mapped_column

from app.database import Base, UTCDateTime, utcnow

_PENDING_SQL = text("status = 'pending'")


class Interest(Base):
    """A 意向: an organization wants an achievement in one cooperation mode; one pending per org and achievement."""

    __tablename__ = "interests"
    __table_args__ = (
        Index(
            "uq_interests_pending_per_org",
            "achievement_id",
            "org_id",
            unique=True,
            sqlite_where=_PENDING_SQL,
            postgresql_where=_PENDING_SQL,
        ),
    )
    entity_type = "interest"

    id: Mapped[int] = mapped_column(primary_key=True)
    achievement_id: Mapped[int] = mapped_column(ForeignKey("achievements.id", ondelete="CASCADE"), index=True)
    org_id: Mapped[int] = mapped_column(ForeignKey("organizations.id"), index=True)
    mode: Mapped[str] = mapped_column(String(20))
    message: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(12))
    reply: Mapped[str] = mapped_column(String(500), default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    decided_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
