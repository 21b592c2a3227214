"""The API documentation partners read and script against: the /docs and /redoc pages and the
parts of the OpenAPI document that FastAPI cannot infer from the routes.

FastAPI's own pages load Swagger UI and ReDoc from a CDN, so on an offline intranet they stay
blank; these load them from the pinned `fastapi-offline` package, served by this service. The
OpenAPI document gains the error responses each operation can answer (in the common error shape
of `app.errors`, with an example each) and an example for every request body. The examples of
successful responses are declared on their response models, beside the fields they show.
"""

import json
import re
from importlib.resources import files
from typing import Any

from fastapi import FastAPI, Request
from fastapi._compat import get_definitions, get_flat_models_from_fields, get_model_name_map
from fastapi.openapi.docs import get_redoc_html, get_swagger_ui_html
from fastapi.openapi.utils import get_fields_from_routes, get_openapi
from fastapi.responses import HTMLResponse
from fastapi.staticfiles import StaticFiles
from starlette.routing import BaseRoute

ASSETS_URL = "/docs-assets"

ERROR_DETAIL = {
    "type": "object",
    "required": ["loc", "msg", "type"],
    "properties": {
        "loc": {
            "type": "array",
            "items": {"anyOf": [{"type": "string"}, {"type": "integer"}]},
            "description": "where: body.field, query.name, header.Authorization, path.id",
        },
        "msg": {"type": "string"},
        "type": {"type": "string", "description": "machine-readable kind, e.g. value_error, not_found, conflict"},
    },
}
ERROR = {
    "type": "object",
    "required": ["detail"],
    "properties": {"detail": {"type": "array", "items": {"$ref": "#/components/schemas/ErrorDetail"}}},
    "description": "Every error: a list of problems, each naming where it was.",
}


def _error(description: str, loc: list, msg: str, type_: str, *, headers: dict | None = None) -> dict:
    response: dict[str, Any] = {
        "description": description,
        "content": {
            "application/json": {
                "schema": {"$ref": "#/components/schemas/Error"},
                "example": {"detail": [{"loc": loc, "msg": msg, "type": type_}]},
            }
        },
    }
    if headers:
        response["headers"] = headers
    return response


ERROR_RESPONSES = {
    "400": _error("The body could not be read at all (not UTF-8, a broken multipart form)", [],
                  "There was an error parsing the body", "http_error"),
    "401": _error("No API key, a malformed Authorization header, or an unknown or revoked key",
                  ["header", "Authorization"], "unknown or revoked API key", "unauthorized",
                  headers={"WWW-Authenticate": {"schema": {"type": "string"}, "description": "Bearer"}}),
    "403": _error("The key's role or organization may not do this", [],
                  "only the owning organization or an admin may change demand 12", "forbidden"),
    "404": _error("No such record (in the path, or an id in the body), or one the key may not see "
                  "(drafts and withdrawn records of other organizations)",
                  ["path", "record_id"], "demand 12 does not exist", "not_found"),
    "409": _error("The record's state forbids this (a final state, a duplicate, a move not allowed)", [],
                  "demand is 'closed' and cannot move to 'published'; allowed next: none", "conflict"),
    "412": _error("`If-Match` names a version the record no longer has: read it again, reapply the change, send the new ETag",
                  ["header", "If-Match"], 'demand 12 is at version 4, not "3"', "precondition_failed",
                  headers={"ETag": {"schema": {"type": "string"}, "description": "the record's current version"}}),
    "413": _error("The request body is larger than TECHMATCH_MAX_BODY_BYTES", [],
                  "request body too large: the limit is 1048576 bytes / 请求体过大", "http_error"),
    "422": _error("The input broke a rule: a missing or malformed field, an unknown code, an unknown parameter",
                  ["body", "fields", 0], "unknown field code 'cars'; see GET /api/v1/codes for the list", "value_error"),
    "503": _error("Too many requests at once: wait `Retry-After` seconds and send it again", [],
                  "服务繁忙，请稍后重试 / server busy (no database connection became free in time), retry after 2s", "server_busy",
                  headers={"Retry-After": {"schema": {"type": "string"}, "description": "seconds to wait"}}),
}

# Reads that any valid key may make: they answer 401 for a bad key but never 403.
OPEN_TO_EVERY_KEY = {
    ("get", "/api/v1/me"),
    ("get", "/api/v1/organizations"),
    ("get", "/api/v1/organizations/{org_id}"),
    ("get", "/api/v1/demands"),
    ("get", "/api/v1/achievements"),
    ("get", "/api/v1/demands/{record_id}"),
    ("get", "/api/v1/achievements/{record_id}"),
    ("get", "/api/v1/demands/{record_id}/history"),
    ("get", "/api/v1/achievements/{record_id}/history"),
    ("get", "/api/v1/demands/{record_id}/matches"),
    ("get", "/api/v1/achievements/{record_id}/matches"),
    ("post", "/api/v1/match"),
    ("get", "/api/v1/notifications"),
    ("post", "/api/v1/notifications/{notification_id}/read"),
}
# Write operations that change no record's state, so never conflict.
NEVER_CONFLICTING = {("post", "/api/v1/match"), ("post", "/api/v1/notifications/{notification_id}/read")}

# Request bodies whose models carry no example of their own (the PATCH bodies are generated from
# the create models, the small reason bodies are shared by many routes).
REQUEST_EXAMPLES: dict[str, dict] = {
    "StatusChange": {"reason": "需求已由合作单位解决，关闭榜单"},
    "Rejection": {"reason": "技术路线与需求不符"},
    "DemandOutcome": {"reason": "揭榜方未能按期完成样机，双方协商终止"},
    "DemandCompletion": {"reason": "样机通过整车低温测试，验收合格"},
    "MilestoneReport": {"report": "已完成样机试制，-20℃ 下续航衰减降至 18%，测试报告见附件。"},
    "MilestoneReturn": {"reason": "测试报告缺少低温循环数据，请补充后重新提交"},
    "InterestReply": {"reply": "欢迎洽谈，请联系成果转化办公室王老师"},
    "OrganizationUpdate": {"region": "220104", "contact": {"name": "王工", "phone": "0431-85100000"}},
    "DemandUpdate": {"title": "新能源汽车冬季续航衰减问题", "budget_min": 1000000, "budget_max": 3000000, "deadline": "2027-12-31"},
    "AchievementUpdate": {"maturity": "pilot", "trl": 6, "transfer_modes": ["transfer", "licensing"]},
    "ProposalUpdate": {"budget": 1600000, "schedule": [{"title": "完成样机试制", "due_date": "2027-06-30"}]},
    "Body_create_import_api_v1_imports_post": {"file": "需求清单.xlsx", "side": "demands", "mode": "dry_run", "all_or_nothing": False},
}


def download(description: str, *media_types: str) -> dict[int | str, dict[str, Any]]:
    """The `responses` of a route that answers a file: its 200 names the file types it may be."""
    binary = {"schema": {"type": "string", "format": "binary"}}
    return {200: {"description": description, "content": {media: binary for media in media_types}}}


def install_docs(app: FastAPI) -> None:
    """Serve /docs and /redoc from local assets and document what the routes cannot say."""
    app.mount(ASSETS_URL, StaticFiles(directory=str(files("fastapi_offline") / "static")), name="docs-assets")

    @app.get("/docs", include_in_schema=False)
    def swagger_ui(request: Request) -> HTMLResponse:
        root = request.scope.get("root_path", "")
        return get_swagger_ui_html(
            openapi_url=f"{root}{app.openapi_url}",
            title=f"{app.title} API",
            swagger_js_url=f"{root}{ASSETS_URL}/swagger-ui-bundle.js",
            swagger_css_url=f"{root}{ASSETS_URL}/swagger-ui.css",
            swagger_favicon_url=f"{root}{ASSETS_URL}/favicon.png",
        )

    @app.get("/redoc", include_in_schema=False)
    def redoc(request: Request) -> HTMLResponse:
        root = request.scope.get("root_path", "")
        return get_redoc_html(
            openapi_url=f"{root}{app.openapi_url}",
            title=f"{app.title} API",
            redoc_js_url=f"{root}{ASSETS_URL}/redoc.standalone.js",
            redoc_favicon_url=f"{root}{ASSETS_URL}/favicon.png",
            with_google_fonts=False,
        )

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            spec = get_openapi(title=app.title, version=app.version, description=app.description, routes=app.routes)
            restore_examples(spec, app.routes)
            document(spec)
            app.openapi_schema = spec
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]


def restore_examples(spec: dict[str, Any], routes: list[BaseRoute]) -> None:
    """Put back the examples the models declare, nulls included.

    FastAPI writes the document without any null (`exclude_none`), which also empties the examples'
    null fields: a key never revoked would lose its required `"revoked_at": null`. The schemas are
    generated again the way `get_openapi` does, and their examples replace the stripped ones.
    """
    fields = get_fields_from_routes(routes)
    names = get_model_name_map(get_flat_models_from_fields(fields, known_models=set()))
    _, definitions = get_definitions(fields=fields, model_name_map=names, separate_input_output_schemas=True)
    for name, schema in spec["components"]["schemas"].items():
        if "examples" in definitions.get(name, {}):
            schema["examples"] = definitions[name]["examples"]


def document(spec: dict[str, Any]) -> None:
    """Add the error responses, the error schema and the missing request examples to `spec`, in place."""
    schemas = spec["components"]["schemas"]
    for name, example in REQUEST_EXAMPLES.items():
        schemas[name]["examples"] = [example]
    schemas["ErrorDetail"] = ERROR_DETAIL
    schemas["Error"] = ERROR
    for name in ("HTTPValidationError", "ValidationError"):
        schemas.pop(name, None)
    for path, operations in spec["paths"].items():
        for method, operation in operations.items():
            responses = operation["responses"]
            for status in error_statuses(method, path, operation, schemas):
                responses[status] = ERROR_RESPONSES[status]


def names_records(body: dict, schemas: dict) -> bool:
    """Whether a request body refers to other records by id (`org_id`, `achievement_ids`, ...), which may not exist."""
    refs = [ref for media in body.values() for ref in re.findall(r"#/components/schemas/(\w+)", json.dumps(media["schema"]))]
    return any(name.endswith(("_id", "_ids")) for ref in refs for name in schemas[ref].get("properties", {}))


def error_statuses(method: str, path: str, operation: dict, schemas: dict) -> list[str]:
    """The error statuses `operation` can answer; see the `ERROR_RESPONSES` descriptions for when."""
    body = operation.get("requestBody", {}).get("content", {})
    headers = {p["name"] for p in operation.get("parameters", []) if p["in"] == "header"}
    has_input = bool(body or operation.get("parameters"))
    secured = bool(operation.get("security"))
    writes = method != "get" and (method, path) not in NEVER_CONFLICTING
    statuses = {
        "400": bool(body),
        "401": secured,
        "403": secured and (method, path) not in OPEN_TO_EVERY_KEY,
        "404": "{" in path or names_records(body, schemas),
        "409": secured and writes,
        "412": "If-Match" in headers,
        "413": bool(body),
        "422": has_input,
        "503": path.startswith("/api/"),
    }
    return [status for status, applies in statuses.items() if applies]
