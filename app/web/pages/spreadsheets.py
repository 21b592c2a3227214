"""表格: the import template, uploading a spreadsheet and following its job to the row report,
exporting a list, and the annual 清单.

Uploads go through `app.imports.views.start` (the API's own upload: the job, its checks, waking
the runner) and downloads through the API's own file builders, with the signed-in person's
`Principal`; the job page polls `/web/imports/{id}/status` (the API's `ImportJobRead`) with a
few lines of plain script (static/imports.js) and reloads itself when the job ends.
"""

from typing import Any

from fastapi import APIRouter, BackgroundTasks, Request
from fastapi.responses import JSONResponse, RedirectResponse, Response
from pydantic import ValidationError
from starlette.datastructures import UploadFile

from app.clock import china_today
from app.dependencies import SessionDep
from app.exports.views import annual_file, list_file
from app.imports import service as imports
from app.imports.schemas import ImportJobRead
from app.imports.service import FINISHED
from app.imports.views import start, template_file
from app.listings import service as listings
from app.schemas import Id
from app.sides import LABELS
from app.web.auth import WebUserDep
from app.web.csrf import FormDep
from app.web.forms import FormErrors, attempt, placed
from app.web.sides import WEB_SIDES, side_of
from app.web.templating import NAV, NavItem, render

router = APIRouter()
NAV.append(NavItem("表格", "/web/imports"))

MODES = {"commit": "导入", "dry_run": "只检查，不写入"}
JOB_LABELS = {"queued": "排队中", "running": "导入中", "done": "已完成", "failed": "失败"}
EXPORT_FORMATS = {"xlsx": "Excel（.xlsx）", "csv": "CSV（UTF-8）"}
FIRST_YEAR = 2020
# The fields each of the page's forms shows (app/web/forms.placed).
FORM_FIELDS = {"import": ("side", "mode", "file"), "export": (), "annual": ("year",)}


def _page(request: Request, web_user, *, values: dict | None = None, errors: dict | None = None, target: str = "",
          status_code: int = 200) -> Response:
    """The page; `target` names the form ("import", "export", "annual") the `errors` belong to."""
    this_year = china_today().year
    context = {
        "sides": LABELS, "modes": MODES, "formats": EXPORT_FORMATS, "years": range(this_year, FIRST_YEAR - 1, -1),
        "can_import": listings.may_create(web_user.principal), "values": values or {},
        "errors": placed(errors or {}, FORM_FIELDS[target]) if target else {}, "target": target,
    }
    return render(request, "spreadsheets.html", context, status_code=status_code)


@router.get("/imports", name="spreadsheets")
def spreadsheets(request: Request, web_user: WebUserDep) -> Response:
    return _page(request, web_user)


@router.get("/imports/template", name="import_template")
def template(request: Request, web_user: WebUserDep, side: str = "demands") -> Response:
    side_of(side)
    return template_file(side)


@router.post("/imports", name="upload")
def upload(request: Request, background: BackgroundTasks, web_user: WebUserDep, form: FormDep, session: SessionDep) -> Response:
    """Queues the file as an import job (multipart, with the CSRF token) and shows its page."""
    values = {name: str(form.get(name, "")) for name in ("side", "mode")}
    values["all_or_nothing"] = "true" if form.get("all_or_nothing") == "true" else ""
    file = form.get("file")

    def queue():
        if values["side"] not in LABELS:
            raise FormErrors({"side": "请选择导入到哪个榜单"})
        if values["mode"] not in MODES:
            raise FormErrors({"mode": "请选择导入方式"})
        if not isinstance(file, UploadFile) or not file.filename:
            raise FormErrors({"file": "请选择要上传的 .xlsx 或 .csv 文件"})
        return start(request, background, session, side=values["side"], mode=values["mode"],
                     all_or_nothing=bool(values["all_or_nothing"]), file=file, actor=web_user.principal)

    job = attempt(session, queue)
    if isinstance(job, FormErrors):
        return _page(request, web_user, values=values, errors=job.errors, target="import", status_code=job.status_code)
    return RedirectResponse(f"/web/imports/{job.id}", status_code=303)


@router.get("/imports/{job_id}", name="import_job")
def job_page(job_id: Id, request: Request, web_user: WebUserDep, session: SessionDep) -> Response:
    """The job's progress while it runs; its counts and row report once it has ended."""
    job = ImportJobRead.model_validate(imports.get_or_raise(session, job_id=job_id, actor=web_user.principal))
    context = {"job": job, "finished": job.status in FINISHED, "sides": LABELS, "modes": MODES, "job_labels": JOB_LABELS}
    return render(request, "import_job.html", context)


@router.get("/imports/{job_id}/status", name="import_status")
def job_status(job_id: Id, web_user: WebUserDep, session: SessionDep) -> Response:
    """The job as the API shows it (GET /api/v1/imports/{id}), for the page's polling script."""
    job = ImportJobRead.model_validate(imports.get_or_raise(session, job_id=job_id, actor=web_user.principal))
    return JSONResponse(job.model_dump(mode="json"), headers={"Cache-Control": "no-store"})


def _export_query(side: str, request: Request) -> tuple[str, Any]:
    """(format, the list's query model) from the address: the list page's filters, as the API's export reads them."""
    values: dict[str, Any] = {}
    for key in dict.fromkeys(request.query_params.keys()):
        items = [value.strip() for value in request.query_params.getlist(key) if value.strip()]
        if items and key not in ("page", "size"):
            values[key] = items if key in ("field", "maturity") else items[-1]
    file_format = values.pop("format", "xlsx")
    if file_format not in EXPORT_FORMATS:
        raise FormErrors({"format": "请选择 Excel 或 CSV"})
    try:
        return file_format, WEB_SIDES[side].query.model_validate(values)
    except ValidationError as error:
        raise FormErrors.of(error) from None


@router.get("/exports/annual", name="export_annual")
def export_annual(request: Request, web_user: WebUserDep, session: SessionDep, side: str = "demands", year: str = "") -> Response:
    """The year's 清单 (.xlsx)."""
    if not year.isdigit() or not FIRST_YEAR <= int(year) <= china_today().year + 1:
        return _page(request, web_user, values={"side": side, "year": year}, errors={"year": "请选择年份"}, target="annual",
                     status_code=422)
    side_of(side)
    return annual_file(session, side=side, year=int(year))


@router.get("/exports/{side}", name="export_list")
def export_list(side: str, request: Request, web_user: WebUserDep, session: SessionDep) -> Response:
    """The list with the filters in the address (those of the list page) as .xlsx or .csv."""
    side_of(side)
    try:
        file_format, query = _export_query(side, request)
    except FormErrors as error:
        return _page(request, web_user, values=dict(request.query_params), errors=error.errors, target="export", status_code=422)
    return list_file(request, session, side=WEB_SIDES[side], query=query, file_format=file_format, actor=web_user.principal)
