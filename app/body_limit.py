"""Refuse request bodies over the configured size before they are parsed.

A declared Content-Length over the cap is refused at once; a chunked body is counted as it
arrives and refused when it crosses the cap (FastAPI lets an HTTPException raised while
reading the body through to the error handlers). Both answer in the common error shape.

Spreadsheet uploads (`POST /api/v1/imports`, and the web workspace's `POST /web/imports`) have their own, larger cap: the application's
`settings.import_max_bytes`.
"""

from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from app.errors import error_response

UPLOAD_PATHS = ("/api/v1/imports", "/web/imports")


class BodySizeLimit:
    def __init__(self, app: ASGIApp, max_bytes: int):
        self.app = app
        self.max_bytes = max_bytes

    def _limit(self, scope: Scope) -> int:
        if scope["path"] in UPLOAD_PATHS:
            settings = getattr(getattr(scope.get("app"), "state", None), "settings", None)
            return getattr(settings, "import_max_bytes", self.max_bytes)
        return self.max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        max_bytes = self._limit(scope)
        refusal = f"request body too large: the limit is {max_bytes} bytes / 请求体过大"
        declared = dict(scope["headers"]).get(b"content-length")
        if declared and declared.isdigit() and int(declared) > max_bytes:
            await error_response(413, [], refusal, "http_error")(scope, receive, send)
            return
        received = 0

        async def counting_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > max_bytes:
                    raise HTTPException(413, refusal)
            return message

        await self.app(scope, counting_receive, send)
