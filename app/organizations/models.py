"""The organization table."""

from datetime import datetime

from sqlalchemy import JSON, String
from sqlalchemy.orm import Mapped, mapped_column

from app.catalog.region_columns import RegionColumns
from app.database import Base, UTCDateTime, utcnow


class Organization(RegionColumns, Base):
    """An 机构: owns demands and achievements through its API keys.

    `broker_scope` matters to organizations with broker keys: `province` for the province's own
    brokers, who act for every organization; `assigned` (the default) for agencies that act only
    for the organizations an admin assigned to them (`broker_assignments`).
    """

    __tablename__ = "organizations"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    kind: Mapped[str] = mapped_column(String(20), index=True)
    credit_code: Mapped[str | None] = mapped_column(String(18), unique=True)
    contact: Mapped[dict] = mapped_column(JSON, default=dict)
    broker_scope: Mapped[str] = mapped_column(String(10), default="assigned", server_default="assigned")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)
