"""Signing in and out, and inviting people (用户管理)."""

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response
from sqlalchemy import select

from app.dependencies import SessionDep
from app.organizations.models import Organization
from app.users import service as users
from app.users.schemas import UserCreate
from app.web.auth import COOKIE, MaybeUserDep, WebUserDep, clear_session_cookie, set_session_cookie
from app.web.csrf import FormDep
from app.web.forms import FormErrors, attempt, nest, validate
from app.web.templating import NAV, NavItem, render

router = APIRouter()
NAV.append(NavItem("用户", "/web/users", roles=("owner", "admin")))
HOME = "/web/"


def _safe_next(target: str | None) -> str:
    """Only a page of this site: never another host (`//evil`, `https://…`)."""
    if target and target.startswith("/web") and not target.startswith("//"):
        return target
    return HOME


@router.get("/login", name="login")
def login_page(request: Request, web_user: MaybeUserDep, next: str = HOME) -> Response:
    if web_user is not None:
        return RedirectResponse(_safe_next(next), status_code=303)
    return render(request, "login.html", {"next": _safe_next(next), "identifier": "", "refusal": ""})


@router.post("/login")
def login(request: Request, form: FormDep, session: SessionDep) -> Response:
    identifier = str(form.get("identifier", "")).strip()
    password = str(form.get("password", ""))
    target = _safe_next(str(form.get("next", "")))
    outcome = users.sign_in(session, identifier=identifier, password=password, settings=request.app.state.settings)
    if outcome.user is None:
        # Returned, not raised: the failure count is committed with the request.
        context = {"next": target, "identifier": identifier, "refusal": outcome.refusal}
        return render(request, "login.html", context, status_code=401)
    token = users.start_session(session, user=outcome.user, settings=request.app.state.settings)
    response = RedirectResponse(target, status_code=303)
    set_session_cookie(request, response, token)
    return response


@router.post("/logout", name="logout")
def logout(request: Request, form: FormDep, session: SessionDep) -> Response:
    token = request.cookies.get(COOKIE)
    if token:
        users.end_session(session, token=token)
    response = RedirectResponse(request.url_for("login").path, status_code=303)
    clear_session_cookie(response)
    return response


def _users_page(request: Request, session, web_user, *, values: dict, errors: dict, status_code: int = 200, created=None) -> Response:
    organizations = session.scalars(select(Organization).order_by(Organization.name)) if web_user.principal.is_admin else []
    context = {
        "users": users.get_all(session, actor=web_user.principal), "values": values,
        "organizations_by_id": {str(org.id): f"{org.name}（{org.id}）" for org in organizations},
        "errors": errors, "created": created,
    }
    return render(request, "users.html", context, status_code=status_code)


@router.get("/users", name="users")
def users_page(request: Request, web_user: WebUserDep, session: SessionDep) -> Response:
    return _users_page(request, session, web_user, values={"org_id": web_user.org_id, "role": "reader"}, errors={})


@router.post("/users")
def invite(request: Request, web_user: WebUserDep, form: FormDep, session: SessionDep) -> Response:
    values = nest(form)
    if not web_user.principal.is_admin:
        values["org_id"] = web_user.org_id  # owners invite into their own organization only
    user = attempt(session, lambda: users.invite(session, data=validate(UserCreate, values), actor=web_user.principal))
    if isinstance(user, FormErrors):
        return _users_page(request, session, web_user, values=values, errors=user.errors, status_code=user.status_code)
    return _users_page(request, session, web_user, values={"org_id": values["org_id"], "role": "reader"}, errors={}, created=user)
