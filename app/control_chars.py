"""Control characters are refused at the door: stored text must survive every export.

C0 and C1 control characters (other than tab, line feed and carriage return) mean nothing in a
title or an abstract, and an .xlsx file cannot hold them: one stored `\\u0007` made every
spreadsheet export fail. `RefuseControlCharacters` checks every string of a JSON body (keys
included) and every query parameter before the request is served, and answers 422 naming the
first place it found one, in the common error shape, so nothing is written.
"""

import json
import re
from collections.abc import Iterator
from typing import Any
from urllib.parse import parse_qsl

from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from app.errors import error_response

CONTROL_CHARACTERS = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")


def without_control_characters(text: str) -> str:
    """`text` with its control characters removed (for text stored before they were refused)."""
    return CONTROL_CHARACTERS.sub("", text)


def _strings(value: Any, loc: list[str | int]) -> Iterator[tuple[list[str | int], str]]:
    """Every string in a JSON value, with its location (object keys count as strings)."""
    if isinstance(value, str):
        yield loc, value
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from _strings(item, [*loc, index])
    elif isinstance(value, dict):
        for key, item in value.items():
            yield [*loc, key], key
            yield from _strings(item, [*loc, key])


def first_control_character(value: Any, loc: list[str | int]) -> tuple[list[str | int], str] | None:
    """(location, character) of the first control character in `value`, or None."""
    for where, text in _strings(value, loc):
        found = CONTROL_CHARACTERS.search(text)
        if found:
            return where, found.group()
    return None


class RefuseControlCharacters:
    def __init__(self, app: ASGIApp):
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        query = [(name, value) for name, value in parse_qsl(scope.get("query_string", b"").decode("latin-1"), keep_blank_values=True)]
        found = first_control_character({name: value for name, value in query}, ["query"])
        if found is None and _is_json(scope):
            try:
                body, receive = await _read_body(receive)
            except HTTPException as refusal:  # the body-size cap, raised while reading
                await error_response(refusal.status_code, [], str(refusal.detail), "http_error")(scope, receive, send)
                return
            try:
                found = first_control_character(json.loads(body), ["body"]) if body else None
            except ValueError:  # not JSON after all: the route's own parsing answers
                found = None
        if found is None:
            await self.app(scope, receive, send)
            return
        loc, character = found
        msg = f"control character U+{ord(character):04X} is not allowed in text / 文本中不允许出现控制字符 U+{ord(character):04X}"
        await error_response(422, loc, msg, "control_character")(scope, receive, send)


def _is_json(scope: Scope) -> bool:
    content_type = dict(scope["headers"]).get(b"content-type", b"").split(b";")[0].strip().lower()
    return content_type == b"application/json" or content_type.endswith(b"+json")


async def _read_body(receive: Receive) -> tuple[bytes, Receive]:
    """The whole body, and a `receive` that hands it to the app again."""
    chunks = []
    while True:
        message = await receive()
        if message["type"] != "http.request":
            break
        chunks.append(message.get("body", b""))
        if not message.get("more_body", False):
            break
    body = b"".join(chunks)
    replayed = False

    async def replay() -> Message:
        nonlocal replayed
        if not replayed:
            replayed = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()

    return body, replay
