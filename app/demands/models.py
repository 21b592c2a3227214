"""The demand table."""

from datetime import date

from sqlalchemy import JSON, BigInteger, Text, func
from sqlalchemy.orm import Mapped, mapped_column

from app.database import Base
from app.listings.models import ListingColumns


class Demand(ListingColumns, Base):
    """A 技术需求: a problem an enterprise wants solved, with its 榜额 (reward/budget) and deadline."""

    __tablename__ = "demands"
    entity_type = "demand"
    text_attr = "description"
    modes_attr = "cooperation_modes"
    amount_attrs = ("budget_min", "budget_max")

    description: Mapped[str] = mapped_column(Text)
    reward: Mapped[int | None] = mapped_column(BigInteger)
    budget_min: Mapped[int | None] = mapped_column(BigInteger)
    budget_max: Mapped[int | None] = mapped_column(BigInteger)
    deadline: Mapped[date | None]
    cooperation_modes: Mapped[list[str]] = mapped_column(JSON, default=list)

    @classmethod
    def amount_bounds(cls):
        """(lowest, highest) yuan the demand offers; a single 榜额 is both."""
        low = func.coalesce(cls.budget_min, cls.reward, cls.budget_max)
        high = func.coalesce(cls.budget_max, cls.reward, cls.budget_min)
        return low, high
