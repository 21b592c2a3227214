"""The two lists as the pages see them: the API's own side declarations (models, request bodies,
what else happens on a status change), with the Chinese words the pages use."""

from app.achievements.views import SIDE as ACHIEVEMENTS
from app.demands.views import SIDE as DEMANDS
from app.errors import NotFound
from app.listings.views import ListingSide

WEB_SIDES: dict[str, ListingSide] = {"demands": DEMANDS, "achievements": ACHIEVEMENTS}
LIST_TITLES = {"demands": "需求榜单", "achievements": "成果榜单"}
RECORD_WORDS = {"demands": "需求", "achievements": "成果"}


def side_of(side: str) -> ListingSide:
    """The list named in a page's address ("demands", "achievements"); 404 for any other name."""
    spec = WEB_SIDES.get(side)
    if spec is None:
        raise NotFound(f"没有这个榜单 / no list {side!r}")
    return spec
