"""Mounting the web workspace on the application: pages, static files, HTML error pages.

Pages live under /web and are left out of the OpenAPI document. Errors raised on a page
(a service's 403/404/409, a missing session, a refused CSRF token) answer with an HTML page or
a redirect; the API keeps its JSON error shape, whose handlers are wrapped, not replaced.
"""

from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import cast

from fastapi import FastAPI, Request
from fastapi.responses import RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from starlette.exceptions import HTTPException as StarletteHTTPException

from app.errors import AppError
from app.web.auth import SignInRequired
from app.web.csrf import CsrfRefused
from app.web.forms import message_of
from app.web.pages import account, brokerage, home, listings, search, spreadsheets, stats, workflow
from app.web.templating import render

PREFIX = "/web"
ApiHandler = Callable[[Request, Exception], Awaitable[Response]]
STATIC = Path(__file__).parent / "static"


def is_page(request: Request) -> bool:
    return request.url.path == PREFIX or request.url.path.startswith(PREFIX + "/")


def sign_in_redirect(request: Request) -> RedirectResponse:
    target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    login = request.url_for("login").include_query_params(next=target)
    return RedirectResponse(f"{login.path}?{login.query}", status_code=303)


def error_page(request: Request, status_code: int, message: str) -> Response:
    return render(request, "error.html", {"status_code": status_code, "message": message}, status_code=status_code)


def install(app: FastAPI) -> None:
    # First the static files, then the pages, listings last: their /{side}/… paths would catch the others.
    app.mount(f"{PREFIX}/static", StaticFiles(directory=STATIC), name="web-static")
    for module in (account, home, search, workflow, brokerage, spreadsheets, stats, listings):
        app.include_router(module.router, prefix=PREFIX, include_in_schema=False)

    @app.get("/", include_in_schema=False)
    def root() -> RedirectResponse:
        return RedirectResponse(f"{PREFIX}/", status_code=307)

    @app.exception_handler(SignInRequired)
    async def sign_in_required(request: Request, _: SignInRequired) -> Response:
        return sign_in_redirect(request)

    @app.exception_handler(CsrfRefused)
    async def csrf_refused(request: Request, _: CsrfRefused) -> Response:
        return error_page(request, 403, "表单已失效（缺少或不符的防伪令牌），请返回刷新页面后再提交。")

    # The API's own handlers (app/errors.py), all coroutines, answer everything that is not a page.
    api_errors = {kind: cast(ApiHandler, app.exception_handlers[kind]) for kind in (AppError, StarletteHTTPException)}

    async def app_error(request: Request, exc: Exception) -> Response:
        if is_page(request) and isinstance(exc, AppError):
            return error_page(request, exc.status_code, message_of(exc))
        return await api_errors[AppError](request, exc)

    async def http_error(request: Request, exc: Exception) -> Response:
        if is_page(request) and isinstance(exc, StarletteHTTPException):
            message = "页面不存在" if exc.status_code == 404 else str(exc.detail)
            return error_page(request, exc.status_code, message)
        return await api_errors[StarletteHTTPException](request, exc)

    app.add_exception_handler(AppError, app_error)
    app.add_exception_handler(StarletteHTTPException, http_error)
