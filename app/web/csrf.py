"""Anti-forgery tokens: every POST form carries `csrf_token`, checked before the page runs.

Signed in, the token is the session's own (stored with it, so it ends with the session).
Before signing in (the sign-in form itself) it is a random token in a cookie that the form
repeats (double submit). A forged cross-site form cannot read either token, and the session
cookie is SameSite=Lax on top. `checked_form` is the dependency every POST page declares: it
reads the form, refuses a missing or wrong token with 403, and hands the form to the page.
"""

import secrets
from typing import Annotated

from fastapi import Depends, Request, Response
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import FormData

from app.config import Settings
from app.web.auth import load_user, secure_cookies

FIELD = "csrf_token"
ANONYMOUS_COOKIE = "tm_csrf"


class CsrfRefused(Exception):
    """The form's token is missing or is not this browser's."""


def token_for(request: Request) -> str:
    """The token to put in this page's forms."""
    web_user = load_user(request)
    if web_user is not None:
        return web_user.csrf_token
    token = request.cookies.get(ANONYMOUS_COOKIE) or getattr(request.state, "new_csrf_cookie", None)
    if not token:
        token = request.state.new_csrf_cookie = secrets.token_urlsafe(32)
    return token


def set_anonymous_cookie(request: Request, response: Response) -> None:
    """Sends the cookie `token_for` created for a visitor who had none."""
    token = getattr(request.state, "new_csrf_cookie", None)
    if token:
        settings: Settings = request.app.state.settings
        response.set_cookie(ANONYMOUS_COOKIE, token, httponly=True, samesite="lax", secure=secure_cookies(request, settings), path="/")


async def checked_form(request: Request) -> FormData:
    """The posted form, once its CSRF token matched; raises CsrfRefused otherwise."""
    form = await request.form()
    sent = form.get(FIELD) or ""
    web_user = await run_in_threadpool(load_user, request)
    expected = web_user.csrf_token if web_user is not None else request.cookies.get(ANONYMOUS_COOKIE, "")
    if not isinstance(sent, str) or not expected or not secrets.compare_digest(sent.encode(), expected.encode()):
        raise CsrfRefused()
    return form


FormDep = Annotated[FormData, Depends(checked_form)]
