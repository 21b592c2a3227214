"""Admission control: beyond its slots, a request waits its turn, then gets 503 with Retry-After."""

import asyncio
import json

from app.admission import AdmissionControl


async def _slow_route(scope, receive, send):
    await asyncio.sleep(0.5)
    await send({"type": "http.response.start", "status": 200, "headers": []})
    await send({"type": "http.response.body", "body": b""})


def test_a_request_that_finds_no_free_slot_in_time_gets_503_with_retry_after():
    guarded = AdmissionControl(_slow_route, slots=1, wait_seconds=0.1)

    async def call():
        sent = []

        async def send(message):
            sent.append(message)

        async def receive():
            return {"type": "http.request", "body": b""}

        await guarded({"type": "http", "path": "/api/v1/demands", "headers": [], "method": "GET"}, receive, send)
        return sent

    async def two_at_once():
        return await asyncio.gather(call(), call())

    first, second = asyncio.run(two_at_once())
    assert first[0]["status"] == 200
    assert second[0]["status"] == 503 and dict(second[0]["headers"])[b"retry-after"] == b"1"
    assert json.loads(second[-1]["body"])["detail"][0]["type"] == "server_busy"
