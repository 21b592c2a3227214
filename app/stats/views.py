"""Routes for statistics: /stats."""

from datetime import date
from typing import Literal

from fastapi import APIRouter, Query, Response

from app.catalog.regions import Region, parse_region
from app.dependencies import PrincipalDep, SessionDep
from app.errors import InvalidInput
from app.schemas import PlausibleDate
from app.stats import service
from app.stats.schemas import Stats

router = APIRouter(prefix="/stats", tags=["stats"])


@router.get(
    "",
    response_model=Stats,
    summary="The province's numbers for a region and date range, as JSON or CSV (every role)",
    responses={
        200: {
            "content": {"text/csv": {"schema": {"type": "string"}}},
            "description": "JSON, or with format=csv flat rows (指标, 维度, 数值, metric, dimension)",
        }
    },
)
def get_stats(
    session: SessionDep,
    principal: PrincipalDep,
    region: str | None = Query(None, description="6-digit code at any level, e.g. 220000 or 220100"),
    start: PlausibleDate | None = Query(None, alias="from", description="first day, inclusive (China time)"),
    end: PlausibleDate | None = Query(None, alias="to", description="last day, inclusive (China time)"),
    format: Literal["json", "csv"] = "json",
):
    stats = service.compute(session, region=checked_filters(region, start, end), start=start, end=end)
    if format == "csv":
        return Response(
            service.to_csv(stats), media_type="text/csv; charset=utf-8", headers={"Content-Disposition": 'attachment; filename="stats.csv"'}
        )
    return stats


def checked_filters(region: str | None, start: date | None, end: date | None) -> Region | None:
    """The region to count in (None: everywhere); 422 for an unknown region or a range that ends before it starts."""
    try:
        parsed = parse_region(region) if region else None
    except ValueError as error:
        raise InvalidInput(str(error), ["query", "region"]) from None
    if start and end and start > end:
        raise InvalidInput("from is after to", ["query", "to"])
    return parsed
