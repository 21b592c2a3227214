"""Routes for demands, built by `app.listings.views.build_router` (the same rules for both lists):

    POST   /api/v1/demands
    GET    /api/v1/demands
    GET    /api/v1/demands/{record_id}
    PATCH  /api/v1/demands/{record_id}
    DELETE /api/v1/demands/{record_id}
    POST   /api/v1/demands/{record_id}/publish
    POST   /api/v1/demands/{record_id}/close
    POST   /api/v1/demands/{record_id}/withdraw
    GET    /api/v1/demands/{record_id}/history

The 揭榜 outcome (complete, fail, terminate) and proposals live in `app.proposals.views`.
"""

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
