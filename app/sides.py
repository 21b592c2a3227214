"""The two lists of the dual-listing market (双向发榜), declared once.

Every module that works per side (matching, imports, exports, statistics) reads the names from
here; the record model of a side is looked up lazily, so this module imports no table.
"""

from typing import TYPE_CHECKING, Literal, get_args

if TYPE_CHECKING:
    from app.listings.models import ListingColumns

SideName = Literal["demands", "achievements"]
SIDES: tuple[SideName, ...] = get_args(SideName)
OTHER_SIDE: dict[str, SideName] = {"demands": "achievements", "achievements": "demands"}
LABELS: dict[str, str] = {"demands": "技术需求", "achievements": "科技成果"}


def listing_model(side: str) -> "type[ListingColumns]":
    """The table of `side` (Demand or Achievement)."""
    from app.achievements.models import Achievement
    from app.demands.models import Demand

    models: dict[str, type[ListingColumns]] = {"demands": Demand, "achievements": Achievement}
    if side not in models:
        raise ValueError(f"unknown side {side!r}; expected one of {SIDES}")
    return models[side]
