"""The achievement table."""

from sqlalchemy import JSON, BigInteger, SmallInteger, String, Text, func
from sqlalchemy.orm import Mapped, mapped_column

from app.database import Base
from app.listings.models import ListingColumns


class Achievement(ListingColumns, Base):
    """A 科技成果: a result a university or institute can transfer, with maturity, IP and price."""

    __tablename__ = "achievements"
    entity_type = "achievement"
    text_attr = "abstract"
    modes_attr = "transfer_modes"
    amount_attrs = ("price_min", "price_max")

    abstract: Mapped[str] = mapped_column(Text)
    maturity: Mapped[str | None] = mapped_column(String(12), index=True)
    trl: Mapped[int | None] = mapped_column(SmallInteger)
    patents: Mapped[list[str]] = mapped_column(JSON, default=list)
    transfer_modes: Mapped[list[str]] = mapped_column(JSON, default=list)
    price_min: Mapped[int | None] = mapped_column(BigInteger)
    price_max: Mapped[int | None] = mapped_column(BigInteger)
    team: Mapped[dict] = mapped_column(JSON, default=dict)
    institution: Mapped[str] = mapped_column(String(200), default="")

    @classmethod
    def amount_bounds(cls):
        """(lowest, highest) yuan asked; one given bound stands for both."""
        return func.coalesce(cls.price_min, cls.price_max), func.coalesce(cls.price_max, cls.price_min)
