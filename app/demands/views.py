"""Routes for demands: /api/v1/demands."""

from app.demands.models import Demand
from app.demands.schemas import DemandCreate, DemandQuery, DemandRead, DemandUpdate
from app.listings.views import ListingSide, build_router

SIDE = ListingSide(
    model=Demand, create=DemandCreate, update=DemandUpdate, read=DemandRead, query=DemandQuery, path="demands", label="demand (技术需求)"
)
router = build_router(SIDE)
