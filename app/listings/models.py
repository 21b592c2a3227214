"""Columns both lists share, as a mixin each side's table inherits."""

from datetime import datetime
from typing import TYPE_CHECKING, Any, ClassVar

from sqlalchemy import JSON, ColumnElement, ForeignKey, FromClause, MetaData, String
from sqlalchemy.orm import Mapped, declared_attr, mapped_column

from app.catalog.region_columns import RegionColumns
from app.database import UTCDateTime, utcnow
from app.errors import InvalidInput
from app.listings.status import LISTING, StateMachine


class ListingColumns(RegionColumns):
    """Identity, owner, classification, contact, status and timestamps of one listing.

    Each side names its long text column (`text_attr`), its mode column (`modes_attr`) and its
    amount range (`amount_attrs`), so shared code can validate and filter either side.
    """

    entity_type: str
    text_attr: str
    modes_attr: str
    amount_attrs: tuple[str, str]
    # Dates that must not be in the past when they are set (an unchanged past date is kept: an
    # exported record whose deadline has passed re-imports, and a form may send it back as it was).
    deadline_attrs: ClassVar[tuple[str, ...]] = ()
    # The table of allowed status transitions; demands replace it with the 揭榜 life cycle.
    lifecycle: ClassVar[StateMachine] = LISTING

    if TYPE_CHECKING:
        # What the mapped class (this mixin plus `Base`) provides, for code that takes either side.
        __tablename__: str
        __table__: ClassVar[FromClause]
        metadata: ClassVar[MetaData]

        def __init__(self, **values: Any) -> None: ...

    id: Mapped[int] = mapped_column(primary_key=True)
    title: Mapped[str] = mapped_column(String(200))
    fields: Mapped[list[str]] = mapped_column(JSON, default=list)
    keywords: Mapped[list[str]] = mapped_column(JSON, default=list)
    negotiable: Mapped[bool] = mapped_column(default=False)
    contact: Mapped[dict] = mapped_column(JSON, default=dict)
    status: Mapped[str] = mapped_column(String(12), index=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)
    published_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # Counts every change of content or status (1 at creation): the record's ETag, checked
    # against `If-Match` so that two editors never overwrite each other unknowingly.
    version: Mapped[int] = mapped_column(default=1, server_default="1")

    @declared_attr
    def owner_org_id(cls) -> Mapped[int]:
        return mapped_column(ForeignKey("organizations.id"), index=True)

    def check_consistency(self) -> None:
        """Raise InvalidInput when fields contradict each other; each side may add its own rules."""
        low_attr, high_attr = self.amount_attrs
        low, high = getattr(self, low_attr), getattr(self, high_attr)
        if low is not None and high is not None and low > high:
            raise InvalidInput(f"{low_attr} ({low}) is greater than {high_attr} ({high})", ["body", high_attr])

    @classmethod
    def amount_bounds(cls) -> tuple[ColumnElement[Any], ColumnElement[Any]]:
        """(lowest, highest) amount of a record as SQL expressions; each side defines its own."""
        raise NotImplementedError

    @classmethod
    def text_column(cls):
        return getattr(cls, cls.text_attr)

    def searchable_text(self) -> tuple[str, list[str], str]:
        """(title, keywords, long text): what keyword search and matching read."""
        return self.title, list(self.keywords), getattr(self, self.text_attr)

