"""The technology contract table."""

from datetime import date, datetime

from sqlalchemy import BigInteger, ForeignKey, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from app.database import Base, UTCDateTime, utcnow

CONTRACT_TYPES = {
    "development": "技术开发",
    "transfer": "技术转让",
    "licensing": "技术许可",
    "service": "技术服务",
    "consulting": "技术咨询",
}


class Contract(Base):
    """A 技术合同 and where it came from.

    The links are filled from each other when recorded (an entry names its pair, a proposal its
    demand), so statistics can place every contract by its demand's or achievement's region.
    """

    __tablename__ = "contracts"
    entity_type = "contract"

    id: Mapped[int] = mapped_column(primary_key=True)
    contract_type: Mapped[str] = mapped_column(String(12), index=True)
    title: Mapped[str] = mapped_column(String(200), default="")
    amount: Mapped[int] = mapped_column(BigInteger)
    signed_on: Mapped[date] = mapped_column(index=True)
    registration_number: Mapped[str | None] = mapped_column(String(40), unique=True)
    shortlist_entry_id: Mapped[int | None] = mapped_column(ForeignKey("shortlist_entries.id", ondelete="SET NULL"), index=True)
    proposal_id: Mapped[int | None] = mapped_column(ForeignKey("proposals.id", ondelete="SET NULL"), index=True)
    demand_id: Mapped[int | None] = mapped_column(ForeignKey("demands.id", ondelete="SET NULL"), index=True)
    achievement_id: Mapped[int | None] = mapped_column(ForeignKey("achievements.id", ondelete="SET NULL"), index=True)
    note: Mapped[str] = mapped_column(Text, default="")
    recorded_by_org_id: Mapped[int] = mapped_column(ForeignKey("organizations.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
