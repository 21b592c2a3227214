"""The session cookie and the signed-in person (`WebUser`), as FastAPI dependencies.

The cookie holds a random token; the session row (app/users) holds its hash, its expiry and the
CSRF token. The user is read in a short read-only transaction of its own, as `get_principal`
reads an API key, and its `principal` is built by the same function, so every page is checked
by exactly the rules the API enforces.
"""

from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Request, Response

from app.auth import Principal
from app.config import Settings
from app.database import session_scope
from app.organizations.models import Organization
from app.users import service as users

COOKIE = "tm_session"


@dataclass(frozen=True)
class WebUser:
    """A signed-in person: who, in which organization, and the `Principal` the services check."""

    user_id: int
    name: str
    role: str
    org_id: int
    org_name: str
    org_kind: str
    csrf_token: str
    principal: Principal


class SignInRequired(Exception):
    """No valid session: the page answers with a redirect to the sign-in page."""


def load_user(request: Request) -> WebUser | None:
    """The request's signed-in user (read once per request), or None."""
    if hasattr(request.state, "web_user"):
        return request.state.web_user
    token = request.cookies.get(COOKIE)
    web_user = None
    if token:
        with session_scope(request.app.state.session_factory, read_only=True) as session:
            found = users.current(session, token=token)
            if found is not None:
                user, web_session = found
                organization = session.get(Organization, user.org_id)
                assert organization is not None  # a foreign key
                web_user = WebUser(
                    user_id=user.id, name=user.name, role=user.role, org_id=user.org_id, org_name=organization.name,
                    org_kind=organization.kind, csrf_token=web_session.csrf_token, principal=users.principal_of(session, user=user),
                )
                request.state.principal = web_user.principal  # for the request log
    request.state.web_user = web_user
    return web_user


def require_user(request: Request) -> WebUser:
    web_user = load_user(request)
    if web_user is None:
        raise SignInRequired()
    return web_user


MaybeUserDep = Annotated[WebUser | None, Depends(load_user)]
WebUserDep = Annotated[WebUser, Depends(require_user)]


def secure_cookies(request: Request, settings: Settings) -> bool:
    """`Secure` cookies when the setting says so, or (`auto`) when the request came over https."""
    if settings.web_secure_cookies == "auto":
        return request.url.scheme == "https"
    return settings.web_secure_cookies == "always"


def set_session_cookie(request: Request, response: Response, token: str) -> None:
    settings: Settings = request.app.state.settings
    response.set_cookie(
        COOKIE, token, max_age=int(settings.web_session_hours * 3600), httponly=True, samesite="lax",
        secure=secure_cookies(request, settings), path="/",
    )


def clear_session_cookie(response: Response) -> None:
    response.delete_cookie(COOKIE, path="/")
