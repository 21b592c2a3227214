"""One log line per request, a request id on every response, and a JSON 500 that can be traced.

Each request gets an id: the caller's `X-Request-ID` when it is a short token, otherwise a new
one. It is returned in the `X-Request-ID` header of every response (500 included), echoed in
the body of a 500, and stamped on every log line written while the request runs (the
`request_id` field that `RequestIdFilter` adds), so a partner quoting it finds the lines.
"""

import contextvars
import logging
import re
import time
import uuid

from fastapi import Request
from fastapi.responses import JSONResponse

log = logging.getLogger("techmatch")
request_log = logging.getLogger("techmatch.request")

REQUEST_ID_HEADER = "X-Request-ID"
_ACCEPTED_ID = re.compile(r"[A-Za-z0-9._-]{1,64}")
current_request_id: contextvars.ContextVar[str] = contextvars.ContextVar("request_id", default="-")


class RequestIdFilter(logging.Filter):
    """Adds `request_id` to every record ('-' outside a request), for the log format to print."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.request_id = current_request_id.get()
        return True


def _caller(principal) -> str:
    """`key=ID` for an API key, `user=ID` for a person signed in to the web pages."""
    if principal is not None and principal.user_id is not None:
        return f"user={principal.user_id}"
    return f"key={principal.key_id if principal else '-'}"


def _request_id(request: Request) -> str:
    offered = request.headers.get(REQUEST_ID_HEADER, "")
    return offered if _ACCEPTED_ID.fullmatch(offered) else uuid.uuid4().hex[:16]


async def log_request(request: Request, call_next):
    """Serve the request, log its line, and turn an unexpected error into a traceable JSON 500."""
    request_id = _request_id(request)
    token = current_request_id.set(request_id)
    started = time.perf_counter()
    try:
        try:
            response = await call_next(request)
        except Exception:
            log.exception("unhandled error in %s %s (request %s)", request.method, request.url.path, request_id)
            msg = f"服务器内部错误，请求编号 {request_id} / internal error, request id {request_id}"
            response = JSONResponse(
                {"detail": [{"loc": [], "msg": msg, "type": "internal_error"}], "request_id": request_id}, 500
            )
        response.headers[REQUEST_ID_HEADER] = request_id
        principal = getattr(request.state, "principal", None)
        request_log.info(
            "%s %s %d %.1fms %s",
            request.method,
            request.url.path,
            response.status_code,
            (time.perf_counter() - started) * 1000,
            _caller(principal),
        )
        return response
    finally:
        current_request_id.reset(token)
