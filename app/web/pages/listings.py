"""需求榜单 and 成果榜单: the lists, one record with its history and matches, the publish and edit
forms, and what a visitor does from a record (shortlist a pair, register interest, apply: 揭榜).

Every read and change goes through the services the API's views call, with the signed-in
person's `Principal`, so a page shows and allows exactly what the API would.
"""

import re
from typing import Any, cast

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response
from pydantic import ValidationError

from app.brokerage import service as brokerage
from app.brokerage.schemas import ShortlistCreate
from app.clock import china_today
from app.dependencies import SessionDep
from app.errors import NotFound
from app.history import service as history
from app.interests import service as interests
from app.interests.schemas import InterestCreate
from app.listings import service as listings
from app.listings.schemas import ListingQuery
from app.listings.views import ListingSide
from app.matching import service as matching
from app.matching.schemas import match_query_model
from app.proposals import service as proposals
from app.proposals.schemas import ProposalCreate
from app.schemas import Id
from app.sides import OTHER_SIDE
from app.web.auth import WebUser, WebUserDep
from app.web.csrf import FormDep
from app.web.forms import FormErrors, attempt, nest, validate
from app.web.sides import LIST_TITLES, RECORD_WORDS, side_of
from app.web.templating import NAV, NavItem, render

router = APIRouter()
NAV.extend([NavItem("需求榜单", "/web/demands"), NavItem("成果榜单", "/web/achievements")])

# Query parameters that repeat (?field=a&field=b).
LIST_PARAMS = ("field", "maturity")
SORTS = {"-updated_at": "最近更新", "-published_at": "最新发布", "deadline": "截止日期", "title": "标题"}
STATUS_VERBS = {"publish": ("published", "发布"), "close": ("closed", "关闭"), "withdraw": ("withdrawn", "撤回")}
MATCHES = 10
# Fields typed as one line of words (关键词, 专利号), split on Chinese and Latin separators.
WORD_LISTS = ("keywords", "patents")
_SEPARATORS = re.compile(r"[,，、;；\s]+")
# Rows of milestones offered in the 揭榜 form.
SCHEDULE_ROWS = 3


def _list_query(spec: ListingSide, request: Request) -> tuple[dict[str, Any], ListingQuery, dict[str, str]]:
    """The list's filters from the address, read by the API's own query model; bad ones are shown, not applied."""
    values: dict[str, Any] = {}
    for key in dict.fromkeys(request.query_params.keys()):
        items = [value.strip() for value in request.query_params.getlist(key) if value.strip()]
        if items:
            values[key] = items if key in LIST_PARAMS else items[-1]
    try:
        return values, cast(ListingQuery, spec.query.model_validate(values)), {}
    except ValidationError as error:
        return values, cast(ListingQuery, spec.query()), FormErrors.of(error).errors


def _page_link(request: Request, page: int) -> str:
    url = request.url.include_query_params(page=page)
    return f"{url.path}?{url.query}"


@router.get("/{side}", name="list")
def list_page(side: str, request: Request, web_user: WebUserDep, session: SessionDep) -> Response:
    spec = side_of(side)
    values, query, errors = _list_query(spec, request)
    items, total = listings.get_page(session, model=spec.model, query=query, actor=web_user.principal)
    pages = max(1, -(-total // query.size))
    context = {
        "side": side, "title": LIST_TITLES[side], "word": RECORD_WORDS[side], "items": items, "total": total, "query": query,
        "values": values, "errors": errors, "sorts": SORTS, "pages": pages,
        "previous": _page_link(request, query.page - 1) if query.page > 1 else None,
        "next": _page_link(request, query.page + 1) if query.page < pages else None,
        "can_publish": listings.may_create(web_user.principal),
    }
    return render(request, "list.html", context, status_code=422 if errors else 200)


def _listing_values(form, keep_empty: tuple[str, ...] = ()) -> dict[str, Any]:
    """The publish/edit form as the API's body: words typed in one box become lists."""
    values = nest(form, keep_empty=keep_empty)
    for name in WORD_LISTS:
        if isinstance(values.get(name), str):
            values[name] = [word for word in _SEPARATORS.split(values[name]) if word]
    for name in ("action", "status", "version"):
        values.pop(name, None)
    return values


def _form_page(request: Request, side: str, *, record=None, values: dict, errors: dict, status_code: int = 200) -> Response:
    context = {"side": side, "word": RECORD_WORDS[side], "record": record, "values": values, "errors": errors}
    return render(request, "record_form.html", context, status_code=status_code)


def _values_of(record) -> dict[str, Any]:
    """A record's fields as the form shows them."""
    values = {column.key: getattr(record, column.key) for column in record.__table__.columns}
    values["region"] = record.region_code
    for name in WORD_LISTS:
        if name in values:
            values[name] = "，".join(values[name])
    return values


@router.get("/{side}/new", name="new_record")
def new_record(side: str, request: Request, web_user: WebUserDep) -> Response:
    side_of(side)
    web_user.principal.require_role("owner", "admin", action=f"publish {side}")
    return _form_page(request, side, values={}, errors={})


@router.post("/{side}/new")
def create_record(side: str, request: Request, web_user: WebUserDep, form: FormDep, session: SessionDep) -> Response:
    spec = side_of(side)
    values = _listing_values(form)
    values["status"] = "published" if form.get("action") == "publish" else "draft"
    record = attempt(session, lambda: listings.create(
        session, model=spec.model, data=validate(spec.create, values), actor=web_user.principal,
    ))
    if isinstance(record, FormErrors):
        return _form_page(request, side, values=values, errors=record.errors, status_code=record.status_code)
    return RedirectResponse(f"/web/{side}/{record.id}", status_code=303)


@router.get("/{side}/{record_id}/edit", name="edit_record")
def edit_record(side: str, record_id: Id, request: Request, web_user: WebUserDep, session: SessionDep) -> Response:
    spec = side_of(side)
    record = listings.get_visible_or_raise(session, model=spec.model, record_id=record_id, actor=web_user.principal)
    web_user.principal.require_manage(record.owner_org_id, f"{spec.model.entity_type} {record_id}")
    return _form_page(request, side, record=record, values=_values_of(record), errors={})


@router.post("/{side}/{record_id}/edit")
def update_record(side: str, record_id: Id, request: Request, web_user: WebUserDep, form: FormDep, session: SessionDep) -> Response:
    """Saves every field of the form; a blank optional field is cleared, and the record must
    still be at the version the form was read at (else the change is refused, as with If-Match)."""
    spec = side_of(side)
    version = str(form.get("version", ""))
    values = _listing_values(form, keep_empty=tuple(spec.create.model_fields))
    for name, info in spec.create.model_fields.items():
        if info.is_required() and name in values and values[name] is None:
            values[name] = ""  # a required text left blank is refused ("不能为空"), not left unchanged

    def save():
        record = listings.get_visible_or_raise(session, model=spec.model, record_id=record_id, actor=web_user.principal, lock=True)
        listings.check_version(record, f'"{version}"')
        return listings.update(session, record=record, data=validate(spec.update, values), actor=web_user.principal)

    saved = attempt(session, save)
    if isinstance(saved, FormErrors):
        current = listings.get_visible_or_raise(session, model=spec.model, record_id=record_id, actor=web_user.principal)
        return _form_page(request, side, record=current, values={**values, "version": version}, errors=saved.errors,
                          status_code=saved.status_code)
    return RedirectResponse(f"/web/{side}/{record_id}", status_code=303)


@router.post("/{side}/{record_id}/status/{verb}", name="change_status")
def change_status(side: str, record_id: Id, verb: str, request: Request, web_user: WebUserDep, form: FormDep,
                  session: SessionDep) -> Response:
    """发布, 关闭, 撤回: the API's status change, and what follows it (a demand's open proposals end)."""
    spec = side_of(side)
    if verb not in STATUS_VERBS:
        raise NotFound(f"没有这个操作 / no action {verb!r}")
    record = listings.get_visible_or_raise(session, model=spec.model, record_id=record_id, actor=web_user.principal, lock=True)
    listings.check_version(record, f'"{form.get("version", "")}"')
    listings.change_status(session, record=record, target=STATUS_VERBS[verb][0], reason=str(form.get("reason", "")),
                           actor=web_user.principal)
    if spec.after_status_change:
        spec.after_status_change(session, record=record, actor=web_user.principal)
    return RedirectResponse(f"/web/{side}/{record_id}", status_code=303)


def _record_page(request: Request, side: str, record_id: int, web_user: WebUser, session, *, refused: FormErrors | None = None,
                 values: dict | None = None, notice: str = "") -> Response:
    """The record, its matches and its actions; after a refused action, the form again with the
    messages and the refusal's own status (422 bad input, 403, 404, 409)."""
    spec = side_of(side)
    principal = web_user.principal
    record = listings.get_visible_or_raise(session, model=spec.model, record_id=record_id, actor=principal)
    target = OTHER_SIDE[side]
    query = match_query_model(matching.SIDES[target][1])(k=MATCHES)
    matches = matching.match_record(
        session, request.app.state.index_keeper, side=side, record_id=record_id, query=query, actor=principal,
    )
    own = principal.can_manage(record.owner_org_id)
    context = {
        "side": side, "target": target, "word": RECORD_WORDS[side], "target_word": RECORD_WORDS[target], "record": record,
        "history": history.get_for(session, entity_type=spec.model.entity_type, entity_id=record_id), "matches": matches,
        "own": own,
        "verbs": {verb: label for verb, (state, label) in STATUS_VERBS.items() if state in record.lifecycle.allowed(record.status)},
        "editable": own and record.status in record.lifecycle.editable,
        "can_shortlist": brokerage.may_build_shortlist(principal) and record.status == "published",
        "can_apply": side == "demands" and proposals.may_apply(record, principal),
        "can_register_interest": side == "achievements" and interests.may_register(record, principal),
        "errors": refused.errors if refused else {}, "values": values or {}, "notice": notice, "schedule_rows": range(SCHEDULE_ROWS),
    }
    return render(request, "record.html", context, status_code=refused.status_code if refused else 200)


@router.get("/{side}/{record_id}", name="record")
def record_page(side: str, record_id: Id, request: Request, web_user: WebUserDep, session: SessionDep) -> Response:
    return _record_page(request, side, record_id, web_user, session, notice=request.query_params.get("notice", ""))


@router.post("/demands/{record_id}/apply", name="apply")
def apply(record_id: Id, request: Request, web_user: WebUserDep, form: FormDep, session: SessionDep) -> Response:
    """揭榜: the visitor's organization applies to the demand with a proposal."""
    values = nest(form)

    def submit():
        demand = proposals.get_demand_or_raise(session, demand_id=record_id, actor=web_user.principal, lock=True)
        data = validate(ProposalCreate, values)
        return proposals.submit(session, demand=demand, data=data, actor=web_user.principal, today=china_today())

    proposal = attempt(session, submit)
    if isinstance(proposal, FormErrors):
        return _record_page(request, "demands", record_id, web_user, session, refused=proposal, values=values)
    return RedirectResponse(f"/web/demands/{record_id}?notice=applied-{proposal.id}", status_code=303)


@router.post("/achievements/{record_id}/interest", name="register_interest")
def register_interest(record_id: Id, request: Request, web_user: WebUserDep, form: FormDep, session: SessionDep) -> Response:
    values = nest(form)

    def register():
        achievement = interests.get_achievement_or_raise(session, achievement_id=record_id, actor=web_user.principal)
        return interests.register(session, achievement=achievement, data=validate(InterestCreate, values), actor=web_user.principal)

    interest = attempt(session, register)
    if isinstance(interest, FormErrors):
        return _record_page(request, "achievements", record_id, web_user, session, refused=interest, values=values)
    return RedirectResponse(f"/web/achievements/{record_id}?notice=interest-{interest.id}", status_code=303)


@router.post("/{side}/{record_id}/shortlist", name="shortlist")
def shortlist(side: str, record_id: Id, request: Request, web_user: WebUserDep, form: FormDep, session: SessionDep) -> Response:
    """A broker adds a pair from the record's matches to its 对接清单."""
    side_of(side)
    values = nest(form)
    entry = attempt(session, lambda: brokerage.create(session, data=validate(ShortlistCreate, values), actor=web_user.principal))
    if isinstance(entry, FormErrors):
        return _record_page(request, side, record_id, web_user, session, refused=entry.as_whole_form())
    return RedirectResponse(f"/web/{side}/{record_id}?notice=shortlisted-{entry.id}", status_code=303)
