"""Routes for exports:

    GET /api/v1/exports/demands        the demand list with the list filters, .xlsx or .csv
    GET /api/v1/exports/achievements   the achievement list likewise
    GET /api/v1/exports/annual         one side's annual list (年度清单), .xlsx

No `from __future__ import annotations`: the query models are built at import time and
FastAPI must see them as objects.
"""

import tempfile
from datetime import date
from pathlib import Path
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query, Request
from fastapi.responses import FileResponse, Response, StreamingResponse
from pydantic import BaseModel, Field, create_model
from sqlalchemy.orm import Session
from starlette.background import BackgroundTask

from app.achievements.views import SIDE as ACHIEVEMENTS
from app.api_docs import download
from app.auth import Principal
from app.database import session_scope
from app.demands.views import SIDE as DEMANDS
from app.dependencies import PrincipalDep, SessionDep
from app.exports import service as export
from app.exports.annual import TITLES, write_annual
from app.listings import service as listings
from app.listings.views import ListingSide
from app.sides import LABELS, SideName, listing_model

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
CSV = "text/csv"

router = APIRouter(prefix="/exports", tags=["exports"])


def _temp_path(name: str) -> Path:
    return Path(tempfile.mkdtemp(prefix="techmatch-export-")) / name


def _remove(path: Path) -> None:
    path.unlink(missing_ok=True)
    path.parent.rmdir()


class ExportFormat(BaseModel):
    format: Literal["xlsx", "csv"] = Field("xlsx", description="xlsx (styled) or csv (UTF-8 with BOM)")


def _add_side(side: ListingSide) -> None:
    name = side.path
    export_query: Any = create_model(f"{side.query.__name__.removesuffix('Query')}ExportQuery", __base__=(side.query, ExportFormat))

    @router.get(
        f"/{name}",
        summary=f"Every {side.label} passing the list filters, as .xlsx or .csv",
        response_class=FileResponse,
        responses=download("The file: .xlsx, or .csv (UTF-8 with a BOM) with format=csv", XLSX, CSV),
    )
    def export_side(query: Annotated[export_query, Query()], request: Request, session: SessionDep, principal: PrincipalDep):
        """The same filters and `sort` as the list endpoint; `page` and `size` are ignored. Headers are
        the import template's, so the file imports back unchanged."""
        asked: Any = query  # its model is built above, at run time
        return list_file(request, session, side=side, query=asked, file_format=asked.format, actor=principal)

    export_side.__name__ = f"export_{name}"


def list_file(request: Request, session: Session, *, side: ListingSide, query: Any, file_format: str, actor: Principal) -> Response:
    """The records of `side` passing the list `query` as a download (.xlsx, or streamed .csv);
    the API's export and the web workspace's both answer with it."""
    name = side.path
    statement = listings.all_matching(model=side.model, query=query, actor=actor)
    stamp = date.today().strftime("%Y%m%d")
    if file_format == "csv":
        factory = request.app.state.session_factory

        def stream():
            with session_scope(factory, read_only=True) as own:
                yield from export.csv_chunks(own, name, listings.iter_records(own, statement))

        headers = {"Content-Disposition": f'attachment; filename="{name}-{stamp}.csv"'}
        return StreamingResponse(stream(), media_type="text/csv; charset=utf-8", headers=headers)
    path = _temp_path(f"{name}-{stamp}.xlsx")
    export.write_xlsx(session, name, listings.iter_records(session, statement), path, LABELS[name])
    return FileResponse(path, media_type=XLSX, filename=path.name, background=BackgroundTask(_remove, path))


_add_side(DEMANDS)
_add_side(ACHIEVEMENTS)


@router.get(
    "/annual",
    summary="The annual list (年度清单) of one side, as .xlsx",
    response_class=FileResponse,
    responses=download("The workbook", XLSX),
)
def export_annual(
    side: Annotated[SideName, Query()],
    year: Annotated[int, Query(ge=2000, le=2100)],
    session: SessionDep,
    principal: PrincipalDep,
):
    """关键核心技术需求清单 (demands) or 高质量成果转化清单 (achievements): records published or active in
    `year`, grouped by field, with a 汇总 cover of totals per field and region. Within a field:
    demands by reward/budget descending, achievements by maturity then number of patents,
    then the earlier publication first."""
    return annual_file(session, side=side, year=year)


def annual_file(session: Session, *, side: str, year: int) -> FileResponse:
    """The year's 清单 of `side` as a download (the API's and the web workspace's)."""
    path = _temp_path(f"{side}-annual-{year}.xlsx")
    write_annual(session, model=listing_model(side), side=side, year=year, path=path)
    filename = f"{year}年{TITLES[side]}.xlsx"
    return FileResponse(path, media_type=XLSX, filename=filename, background=BackgroundTask(_remove, path))
