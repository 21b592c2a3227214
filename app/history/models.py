"""The change history table. Rows are only ever inserted."""

from datetime import datetime

from sqlalchemy import JSON, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from app.database import Base, UTCDateTime, utcnow


class ChangeRecord(Base):
    """One change to one record: `changes` maps each field to `{"old": ..., "new": ...}`.

    No foreign key to the record: the history outlives an admin purge.
    """

    __tablename__ = "change_history"
    __table_args__ = (Index("ix_change_history_entity", "entity_type", "entity_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    entity_type: Mapped[str] = mapped_column(String(20))
    entity_id: Mapped[int]
    action: Mapped[str] = mapped_column(String(20))
    changes: Mapped[dict] = mapped_column(JSON)
    actor_key_id: Mapped[int | None]
    actor_user_id: Mapped[int | None]
    actor_org_id: Mapped[int | None]
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
