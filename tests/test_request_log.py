"""Every response carries a request id; an unexpected error is a JSON 500 that names it, and is logged with it."""

import logging

import pytest
from fastapi.testclient import TestClient

from app.main import create_app
from app.request_log import RequestIdFilter


@pytest.fixture
def failing_app(app):
    """The service with one extra route that fails the way a bug would."""
    broken = create_app(app.state.settings)

    @broken.get("/api/v1/fails")
    def fails():
        raise RuntimeError("a bug")

    return broken


def test_an_unexpected_error_is_a_json_500_with_its_request_id_in_the_log(failing_app, caplog):
    caplog.handler.addFilter(RequestIdFilter())
    caplog.set_level(logging.INFO, logger="techmatch")
    with TestClient(failing_app, raise_server_exceptions=False) as client:
        response = client.get("/api/v1/fails", headers={"X-Request-ID": "partner-42"})
    assert response.status_code == 500
    assert response.headers["content-type"] == "application/json"
    assert response.headers["X-Request-ID"] == "partner-42"
    body = response.json()
    assert body["request_id"] == "partner-42" and body["detail"][0]["type"] == "internal_error"
    error = next(r for r in caplog.records if r.levelno == logging.ERROR)
    assert "/api/v1/fails" in error.getMessage() and error.request_id == "partner-42" and error.exc_info
    line = next(r for r in caplog.records if r.name == "techmatch.request")
    assert line.getMessage().startswith("GET /api/v1/fails 500") and line.request_id == "partner-42"


def test_every_response_gets_a_request_id(client):
    first = client.get("/api/v1/health").headers["X-Request-ID"]
    second = client.get("/api/v1/demands/1").headers["X-Request-ID"]  # 401: no key
    assert first and second and first != second
    unsafe = client.get("/api/v1/health", headers={"X-Request-ID": "a b\nc" * 30}).headers["X-Request-ID"]
    assert " " not in unsafe and len(unsafe) <= 64


def test_405_lists_every_method_of_the_path(world):
    response = world.client.put("/api/v1/demands/1", headers=world.admin)
    assert response.status_code == 405
    assert response.headers["Allow"] == "DELETE, GET, PATCH"
