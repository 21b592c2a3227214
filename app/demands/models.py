"""The demand table."""

from datetime import date

from sqlalchemy import JSON, BigInteger, Text, func
from sqlalchemy.orm import Mapped, mapped_column

from app.database import Base
from app.errors import InvalidInput
from app.listings.models import ListingColumns
from app.listings.status import DEMAND


class Demand(ListingColumns, Base):
    """A 技术需求: a problem an enterprise wants solved, with its 榜额 (reward/budget) and deadline."""

    __tablename__ = "demands"
    entity_type = "demand"
    deadline_attrs = ("deadline", "application_deadline", "delivery_deadline")
    text_attr = "description"
    modes_attr = "cooperation_modes"
    amount_attrs = ("budget_min", "budget_max")
    lifecycle = DEMAND

    description: Mapped[str] = mapped_column(Text)
    reward: Mapped[int | None] = mapped_column(BigInteger)
    budget_min: Mapped[int | None] = mapped_column(BigInteger)
    budget_max: Mapped[int | None] = mapped_column(BigInteger)
    deadline: Mapped[date | None]
    cooperation_modes: Mapped[list[str]] = mapped_column(JSON, default=list)
    # The conditions of the call (榜单条件), all optional.
    application_deadline: Mapped[date | None]
    delivery_deadline: Mapped[date | None]
    qualifications: Mapped[dict | None] = mapped_column(JSON)
    deliverables: Mapped[str | None] = mapped_column(Text)
    acceptance_criteria: Mapped[str | None] = mapped_column(Text)

    def check_consistency(self) -> None:
        """Applications must close no later than delivery is due."""
        super().check_consistency()
        if self.application_deadline and self.delivery_deadline and self.application_deadline > self.delivery_deadline:
            raise InvalidInput(
                f"application_deadline ({self.application_deadline}) is after delivery_deadline ({self.delivery_deadline})",
                ["body", "delivery_deadline"],
            )

    @classmethod
    def amount_bounds(cls):
        """(lowest, highest) yuan the demand offers; a single 榜额 is both."""
        low = func.coalesce(cls.budget_min, cls.reward, cls.budget_max)
        high = func.coalesce(cls.budget_max, cls.reward, cls.budget_min)
        return low, high
