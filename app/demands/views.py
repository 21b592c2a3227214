"""Routes for demands: /api/v1/demands."""

from app.demands.models import Demand
from app.demands.schemas import DemandCreate, DemandQuery, DemandRead, DemandUpdate
from app.listings.views import ListingSide, build_router
from app.proposals import service as proposals

SIDE = ListingSide(
    model=Demand,
    create=DemandCreate,
    update=DemandUpdate,
    read=DemandRead,
    query=DemandQuery,
    path="demands",
    label="demand (技术需求)",
    after_status_change=proposals.release_open_proposals,
)
router = build_router(SIDE)
