"""Routes for achievements, built by `app.listings.views.build_router` (the same rules for both lists):

    POST   /api/v1/achievements
    GET    /api/v1/achievements
    GET    /api/v1/achievements/{record_id}
    PATCH  /api/v1/achievements/{record_id}
    DELETE /api/v1/achievements/{record_id}
    POST   /api/v1/achievements/{record_id}/publish
    POST   /api/v1/achievements/{record_id}/close
    POST   /api/v1/achievements/{record_id}/withdraw
    GET    /api/v1/achievements/{record_id}/history
"""

from app.achievements.models import Achievement
from app.achievements.schemas import (
    AchievementCreate,
    AchievementQuery,
    AchievementRead,
    AchievementUpdate,
)
from app.listings.views import ListingSide, build_router

SIDE = ListingSide(
    model=Achievement,
    create=AchievementCreate,
    update=AchievementUpdate,
    read=AchievementRead,
    query=AchievementQuery,
    path="achievements",
    label="achievement (科技成果)",
)
router = build_router(SIDE)
