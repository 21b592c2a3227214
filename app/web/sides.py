"""The two lists as the pages see them: the API's own side declarations (models, request bodies,
what else happens on a status change), with the Chinese words the pages use."""

from app.achievements.views import SIDE as ACHIEVEMENTS
from app.demands.views import SIDE as DEMANDS
from app.listings.views import ListingSide

WEB_SIDES: dict[str, ListingSide] = {"demands": DEMANDS, "achievements": ACHIEVEMENTS}
LIST_TITLES = {"demands": "需求榜单", "achievements": "成果榜单"}
RECORD_WORDS = {"demands": "需求", "achievements": "成果"}
