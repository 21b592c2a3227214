"""Routes for achievements: /api/v1/achievements."""

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
