"""The notification table."""

from datetime import datetime

from sqlalchemy import JSON, ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from app.database import Base, UTCDateTime, utcnow


class Notification(Base):
    """One event for one organization: what happened (`kind`), to which record, and whether it was read."""

    __tablename__ = "notifications"
    __table_args__ = (Index("ix_notifications_org_read", "org_id", "read_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    org_id: Mapped[int] = mapped_column(ForeignKey("organizations.id"))
    kind: Mapped[str] = mapped_column(String(40))
    message: Mapped[str] = mapped_column(String(500))
    entity_type: Mapped[str] = mapped_column(String(20))
    entity_id: Mapped[int]
    # The event's facts for programs (a match's pair and relevance); None for most kinds.
    data: Mapped[dict | None] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    read_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
