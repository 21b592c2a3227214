"""统计: the province's figures (GET /api/v1/stats) with charts per field, per city and per month.

Every number comes from `app.stats.service`, the functions behind the API: `compute` gives the
figures and the per-field chart for the chosen region and dates, `totals` the per-city chart
(once per city of the province) and the per-month chart (once per month of the chosen year).
The filters are checked by the API view's own `checked_filters`. The charts are server-side SVG (app/web/charts.py).
"""

from calendar import monthrange
from datetime import date

from fastapi import APIRouter, Request
from fastapi.responses import Response
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from app.catalog.codes import FIELDS
from app.catalog.regions import NAMES, Region
from app.clock import china_today
from app.contracts.models import CONTRACT_TYPES
from app.dependencies import SessionDep
from app.errors import InvalidInput
from app.schemas import PlausibleDate
from app.stats import service as stats
from app.stats.views import checked_filters
from app.web.auth import WebUserDep
from app.web.charts import Chart
from app.web.forms import FormErrors
from app.web.templating import NAV, NavItem, render

router = APIRouter()
NAV.append(NavItem("统计", "/web/stats", roles=("admin", "reader")))

HOME_PROVINCE = "22"  # the cities charted are those of the province the division table names
# The report's own labels (those of its CSV), for the sides in the report's order.
SIDE_WORDS = {side: stats.DIMENSION_LABELS[side] for side in stats.SIDES}


class StatsForm(BaseModel):
    """The page's filters: the API's (region, from, to) and the year the monthly chart covers."""

    model_config = ConfigDict(extra="ignore", str_strip_whitespace=True, populate_by_name=True)

    region: str | None = None
    start: PlausibleDate | None = Field(None, alias="from")
    end: PlausibleDate | None = Field(None, alias="to")
    year: int = Field(default_factory=lambda: china_today().year, ge=2000, le=2100)


def _cities() -> list[Region]:
    return [Region(prefix + "00") for prefix in sorted(NAMES) if len(prefix) == 4 and prefix.startswith(HOME_PROVINCE)]


def _charts(session, figures: dict, form: StatsForm, region: Region | None) -> list[Chart]:
    added = figures["records_added"]
    fields = sorted(set(added["demand"]["by_field"]) | set(added["achievement"]["by_field"]), key=lambda code: list(FIELDS).index(code)
                    if code in FIELDS else len(FIELDS))
    per_field = Chart(
        "chart-fields", "按领域：新发布的技术需求与科技成果（项）", [FIELDS.get(code, code) for code in fields],
        {SIDE_WORDS[side]: [added[side]["by_field"].get(code, 0) for code in fields] for side in SIDE_WORDS},
    )
    cities = _cities()
    by_city = [stats.totals(session, region=city, start=form.start, end=form.end) for city in cities]
    per_city = _totals_chart("chart-cities", "按地市：新发布的技术需求与科技成果、技术合同（项）",
                             [city.name.split("/")[-1] for city in cities], by_city)
    months = [(date(form.year, month, 1), date(form.year, month, monthrange(form.year, month)[1])) for month in range(1, 13)]
    by_month = [stats.totals(session, region=region, start=first, end=last) for first, last in months]
    per_month = _totals_chart("chart-months", f"按月：{form.year} 年新发布的技术需求与科技成果、技术合同（项）",
                              [f"{first.month} 月" for first, _ in months], by_month)
    return [per_field, per_city, per_month]


def _totals_chart(chart_id: str, title: str, labels: list[str], totals: list[dict[str, int]]) -> Chart:
    """Records published per side and contracts signed, one group of bars per label."""
    series: dict[str, list[float]] = {SIDE_WORDS[side]: [numbers[side] for numbers in totals] for side in SIDE_WORDS}
    return Chart(chart_id, title, labels, {**series, "技术合同": [numbers["contracts"] for numbers in totals]})


@router.get("/stats", name="stats")
def stats_page(request: Request, web_user: WebUserDep, session: SessionDep) -> Response:
    values = {key: value for key, value in request.query_params.items() if value.strip()}
    errors: dict[str, str] = {}
    try:
        form = StatsForm.model_validate(values)
        region = checked_filters(form.region, form.start, form.end)
    except ValidationError as error:
        errors = FormErrors.of(error).errors  # named as in the address (`from`, `to`): the fields' aliases
    except InvalidInput as error:
        errors = {str(error.loc[-1]): FormErrors.of(error).errors[""]}
    if errors:
        form, region = StatsForm(), None
    figures = stats.compute(session, region=region, start=form.start, end=form.end)
    context = {
        "values": values, "errors": errors, "figures": figures, "charts": _charts(session, figures, form, region),
        "region_name": region.name if region else "全部地区", "side_words": SIDE_WORDS, "labels": stats.DIMENSION_LABELS,
        "contract_types": CONTRACT_TYPES, "form": form,
    }
    return render(request, "stats.html", context, status_code=422 if errors else 200)
