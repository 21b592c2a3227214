"""One error shape for every 4xx: `{"detail": [{"loc": [...], "msg": "...", "type": "..."}]}`.

It is the shape FastAPI already uses for validation errors, so a client parses one format
whether the body was malformed or the request broke a business rule.
"""

import re
from collections.abc import Sequence

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from sqlalchemy.exc import OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from starlette.exceptions import HTTPException as StarletteHTTPException

# What a client should wait before retrying when the database is saturated (seconds).
RETRY_AFTER = "2"


class AppError(Exception):
    """A request that cannot be served as asked; `loc` names the offending input."""

    status_code = 400
    type = "bad_request"

    def __init__(self, msg: str, loc: Sequence[str | int] = (), *, headers: dict | None = None):
        super().__init__(msg)
        self.msg = msg
        self.loc = list(loc)
        self.headers = headers


class InvalidInput(AppError):
    status_code = 422
    type = "value_error"


class Unauthorized(AppError):
    status_code = 401
    type = "unauthorized"

    def __init__(self, msg: str):
        super().__init__(msg, ["header", "Authorization"], headers={"WWW-Authenticate": "Bearer"})


class Forbidden(AppError):
    status_code = 403
    type = "forbidden"


class NotFound(AppError):
    status_code = 404
    type = "not_found"


class Conflict(AppError):
    status_code = 409
    type = "conflict"


class PreconditionFailed(AppError):
    """`If-Match` named a version the record no longer has; the response carries the current ETag."""

    status_code = 412
    type = "precondition_failed"


def _body(loc: list, msg: str, type_: str) -> dict:
    return {"detail": [{"loc": loc, "msg": msg, "type": type_}]}


def error_response(status: int, loc: list, msg: str, type_: str, headers: dict | None = None) -> JSONResponse:
    """An error in the common shape; also an ASGI app, for middleware that answers before routing."""
    return JSONResponse(_body(loc, msg, type_), status, headers=headers)


def busy_response(reason: str, retry_after: str = RETRY_AFTER) -> JSONResponse:
    """503 with Retry-After: the server is saturated, not broken."""
    msg = f"服务繁忙，请 {retry_after} 秒后重试 / server busy ({reason}), retry after {retry_after}s"
    return error_response(503, [], msg, "server_busy", headers={"Retry-After": retry_after})


def install_error_handlers(app: FastAPI) -> None:
    """Render every error in the common shape."""

    @app.exception_handler(AppError)
    async def app_error(_: Request, exc: AppError) -> JSONResponse:
        return JSONResponse(_body(exc.loc, exc.msg, exc.type), exc.status_code, headers=exc.headers)

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        msg = exc.detail if isinstance(exc.detail, str) else str(exc.detail)
        headers = exc.headers
        if exc.status_code == 405:
            headers = {**(headers or {}), "Allow": ", ".join(_allowed_methods(request))}
        return JSONResponse(_body([], msg, "http_error"), exc.status_code, headers=headers)

    @app.exception_handler(PoolTimeout)
    async def pool_exhausted(_: Request, exc: PoolTimeout) -> JSONResponse:
        return busy_response("no database connection became free in time")

    @app.exception_handler(OperationalError)
    async def database_busy(request: Request, exc: OperationalError) -> JSONResponse:
        """SQLite's write lock stayed taken past the busy timeout: busy, not broken. Anything else is a 500."""
        if "database is locked" not in str(exc.orig):
            raise exc
        return busy_response("the database stayed locked by other writers")

    @app.exception_handler(RequestValidationError)
    async def validation_error(_: Request, exc: RequestValidationError) -> JSONResponse:
        errors = [
            {"loc": list(e["loc"]), "msg": e["msg"], "type": e["type"]} for e in exc.errors()
        ]
        return JSONResponse({"detail": errors}, 422)



def _allowed_methods(request: Request) -> list[str]:
    """Every method the API documents at this path (the router's 405 names only the first route's)."""
    methods: set[str] = set()
    for template, operations in request.app.openapi()["paths"].items():
        if re.fullmatch(re.sub(r"\{[^/]+\}", "[^/]+", template), request.url.path):
            methods.update(method.upper() for method in operations)
    return sorted(methods)
