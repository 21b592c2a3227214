"""Routes for bulk import: /api/v1/imports.

Jobs are kept in the database and run by whichever worker process claims them first (see
`service.ImportRunner`); when this process runs one (role `all`), the upload wakes it at once.
"""

import tempfile
from pathlib import Path
from typing import Annotated

from fastapi import (
    APIRouter,
    BackgroundTasks,
    File,
    Form,
    Query,
    Request,
    UploadFile,
)
from fastapi.responses import FileResponse
from sqlalchemy.orm import Session
from starlette.background import BackgroundTask
from starlette.datastructures import UploadFile as StarletteUploadFile

from app.api_docs import download
from app.auth import Principal
from app.dependencies import PrincipalDep, SessionDep
from app.errors import InvalidInput
from app.imports import service
from app.imports.models import ImportJob
from app.imports.schemas import ImportJobRead, Mode
from app.imports.template import write_template
from app.schemas import Id
from app.sides import LABELS, SideName

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


router = APIRouter(prefix="/imports", tags=["imports"])


@router.post("", response_model=ImportJobRead, status_code=202, summary="Upload an .xlsx or .csv to import (a background job)")
def create_import(
    request: Request,
    background: BackgroundTasks,
    session: SessionDep,
    principal: PrincipalDep,
    file: Annotated[UploadFile, File(description=".xlsx, or .csv in UTF-8 or GBK/GB18030")],
    side_form: Annotated[SideName | None, Form(alias="side")] = None,
    mode_form: Annotated[Mode | None, Form(alias="mode")] = None,
    all_or_nothing_form: Annotated[bool | None, Form(alias="all_or_nothing")] = None,
    side: Annotated[SideName | None, Query(description="demands or achievements (or as a form field)")] = None,
    mode: Annotated[Mode | None, Query(description="dry_run reports only; commit writes (default)")] = None,
    all_or_nothing: Annotated[bool | None, Query(description="import nothing if any row is bad")] = None,
):
    """Headers may be the Chinese ones offices use (需求名称, 榜额(万元), 成果名称, 成熟度, 原系统编号, …) or
    the API's field names; see `GET /api/v1/imports/template`. Poll `GET /api/v1/imports/{id}`."""
    side = side or side_form
    if side is None:
        raise InvalidInput("side is required: demands or achievements", ["query", "side"])
    return start(
        request, background, session, side=side, mode=mode or mode_form or "commit",
        all_or_nothing=bool(all_or_nothing if all_or_nothing is not None else all_or_nothing_form), file=file, actor=principal,
    )


def start(request: Request, background: BackgroundTasks, session: Session, *, side: str, mode: str, all_or_nothing: bool,
          file: StarletteUploadFile, actor: Principal) -> ImportJob:
    """Queues the upload as a job and wakes this process's runner once the request has committed
    (the API's upload and the web workspace's)."""
    data = file.file.read(request.app.state.settings.import_max_bytes + 1)
    job = service.create_job(
        session, settings=request.app.state.settings, side=side, mode=mode, all_or_nothing=all_or_nothing,
        filename=file.filename or "", data=data, actor=actor,
    )
    runner = request.app.state.import_runner
    if runner is not None:
        background.add_task(runner.wake)  # runs after the commit
    return job


@router.get(
    "/template",
    summary="The import template of one side (.xlsx)",
    response_class=FileResponse,
    responses=download("The workbook, headers in Chinese with an example row", XLSX),
)
def get_template(side: Annotated[SideName, Query()], principal: PrincipalDep):
    return template_file(side)


def template_file(side: str) -> FileResponse:
    """The import template of `side` as a download (the API's and the web workspace's)."""
    folder = tempfile.mkdtemp(prefix="techmatch-template-")
    path = write_template(side, Path(folder) / f"{side}_template.xlsx")
    name = f"{LABELS[side]}导入模板.xlsx"
    return FileResponse(path, media_type=XLSX, filename=name, background=BackgroundTask(_remove, path))


@router.get("/{job_id}", response_model=ImportJobRead, summary="Status, progress and row errors of an import")
def get_import(job_id: Id, session: SessionDep, principal: PrincipalDep):
    return service.get_or_raise(session, job_id=job_id, actor=principal)


def _remove(path: Path) -> None:
    path.unlink(missing_ok=True)
    path.parent.rmdir()
