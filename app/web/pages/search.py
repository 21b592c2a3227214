"""Free-text search (检索) for brokers: the service behind POST /api/v1/match, as a GET form
(a search writes nothing, so it needs no CSRF token and its address can be bookmarked)."""

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response

from app.dependencies import SessionDep
from app.matching import service as matching
from app.matching.schemas import TextMatchRequest
from app.web.auth import WebUserDep
from app.web.forms import FormErrors, attempt, validate
from app.web.sides import RECORD_WORDS
from app.web.templating import NAV, NavItem, render

router = APIRouter()
NAV.append(NavItem("检索", "/web/search", roles=("broker", "admin")))


@router.get("/search", name="search")
def search(request: Request, web_user: WebUserDep, session: SessionDep) -> Response:
    params = request.query_params
    values = {"text": params.get("text", "").strip(), "target": params.get("target", "achievements")}
    filters: dict[str, Any] = {"field": params.getlist("field")} if params.getlist("field") else {}
    if params.get("region", "").strip():
        filters["region"] = params["region"].strip()

    def run():
        body = validate(TextMatchRequest, {**values, "filters": filters, "include_weak": params.get("include_weak") == "true"})
        parsed = matching.parse_filters(body.target, body.filters)
        return matching.match_text(
            session, request.app.state.index_keeper, text=body.text, target=body.target, filters=parsed, k=body.k,
            prefer_region=body.prefer_region, include_weak=body.include_weak,
        )

    outcome = attempt(session, run) if values["text"] else None
    refused = outcome if isinstance(outcome, FormErrors) else None
    context = {"values": {**values, **filters}, "result": None if refused else outcome, "errors": refused.errors if refused else {},
               "words": RECORD_WORDS}
    return render(request, "search.html", context, status_code=refused.status_code if refused else 200)

