"""The OpenAPI document partners script against: complete, unambiguous, with Chinese examples."""

import json
import re
import warnings
from pathlib import Path
from typing import get_args

import jsonschema_rs
from fastapi.routing import APIRoute, iter_route_contexts
from fastapi.testclient import TestClient
from pydantic import BaseModel

from app.catalog.codes import FIELDS
from app.main import create_app


def test_openapi_lists_every_endpoint_once_with_chinese_examples():
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # FastAPI warns about duplicate operation ids
        spec = create_app().openapi()
    operations = [op for path in spec["paths"].values() for op in path.values()]
    assert len({op["operationId"] for op in operations}) == len(operations)
    for path in ("/api/v1/demands/{record_id}/matches", "/api/v1/achievements/{record_id}/matches", "/api/v1/match"):
        assert path in spec["paths"]
    text = json.dumps(spec["components"]["schemas"], ensure_ascii=False)
    assert "新能源汽车冬季续航衰减问题" in text and "动力电池低温热管理" in text and "电动汽车冬季续航衰减" in text


def test_route_modules_built_in_loops_list_exactly_their_paths():
    """Routes built by a shared builder are listed literally in their module's docstring, so a search
    for "/demands/{record_id}/publish" finds where it is declared; the lists must stay true."""
    from app.achievements import views as achievements
    from app.demands import views as demands
    from app.exports import views as exports
    from app.matching import views as matching

    spec = create_app().openapi()
    served = {(method.upper(), path) for path, operations in spec["paths"].items() for method in operations}
    matches = re.compile(r"^/api/v1/(match|(demands|achievements)/\{record_id\}/matches)$")
    workflow = re.compile(r"/(matches|proposals|complete|fail|terminate|interests)$")  # declared in their own modules
    for module, belongs in (
        (demands, lambda path: path.startswith("/api/v1/demands") and not workflow.search(path)),
        (achievements, lambda path: path.startswith("/api/v1/achievements") and not workflow.search(path)),
        (exports, lambda path: path.startswith("/api/v1/exports")),
        (matching, matches.match),
    ):
        listed = set(re.findall(r"^\s+(GET|POST|PATCH|DELETE)\s+(/api/v1/\S+)", module.__doc__, re.MULTILINE))
        assert listed == {(method, path) for method, path in served if belongs(path)}, module.__name__


def test_docs_pages_load_every_asset_from_the_service_itself():
    """An offline intranet reaches no CDN: /docs and /redoc reference only this service's URLs, and those answer."""
    client = TestClient(create_app())
    expected_types = {".js": "javascript", ".css": "text/css", ".png": "image/png", ".json": "application/json"}
    for page in ("/docs", "/redoc"):
        html = client.get(page).text
        assert "://" not in html, html
        urls = set(re.findall(r'(?:src|href|spec-url)="([^"]+)"', html)) | set(re.findall(r"url: '([^']+)'", html))
        assert any(url.endswith(".js") for url in urls) and "/openapi.json" in urls, urls
        for url in urls:
            response = client.get(url)
            assert response.status_code == 200, url
            assert expected_types[Path(url).suffix] in response.headers["content-type"], (url, response.headers["content-type"])


def test_openapi_declares_the_bearer_key_errors_and_request_examples():
    spec = create_app().openapi()
    scheme = spec["components"]["securitySchemes"]["HTTPBearer"]
    assert (scheme["type"], scheme["scheme"]) == ("http", "bearer")
    schemas = spec["components"]["schemas"]
    for path, operations in spec["paths"].items():
        for method, op in operations.items():
            where = f"{method.upper()} {path}"
            public = path in ("/api/v1/health", "/api/v1/codes")
            assert ("security" in op) is not public, where
            assert public or {"401", "503"} <= set(op["responses"]), where
            for status, response in op["responses"].items():
                if status.startswith(("4", "5")):
                    content = response["content"]["application/json"]
                    assert content["schema"] == {"$ref": "#/components/schemas/Error"}, where
                    assert set(content["example"]["detail"][0]) == {"loc", "msg", "type"}, where
            for media in op.get("requestBody", {}).get("content", {}).values():
                schema = media["schema"]
                refs = [schema.get("$ref")] + [s.get("$ref") for s in schema.get("anyOf", [])]
                named = [schemas[ref.rsplit("/", 1)[1]] for ref in refs if ref]
                assert named and all(s.get("examples") for s in named), f"{where}: request body without an example"
    field_filter = next(p for p in spec["paths"]["/api/v1/demands"]["get"]["parameters"] if p["name"] == "field")
    assert field_filter["schema"]["items"]["enum"] == list(FIELDS)  # the codes; the Chinese labels are accepted too
    assert set(schemas["Error"]["required"]) == {"detail"} and set(schemas["ErrorDetail"]["required"]) == {"loc", "msg", "type"}


def examples_of(media: dict, schemas: dict) -> list:
    """The examples a client sees for a response body: the media type's own, else its schema's,
    following a $ref, and for a list the example of its item as a one-item list."""
    if "example" in media:
        return [media["example"]]
    schema = media["schema"]
    if "$ref" in schema:
        return schemas[schema["$ref"].rsplit("/", 1)[1]].get("examples", [])
    if schema.get("type") == "array":
        return [[item] for item in examples_of({"schema": schema["items"]}, schemas)]
    return schema.get("examples", [])


def test_every_successful_response_has_an_example_valid_against_its_schema():
    """Partners script against the examples: every 2xx JSON body has one, and it is what the schema allows
    (formats such as date-time checked too); a file download names its media types instead."""
    spec = create_app().openapi()
    schemas = spec["components"]["schemas"]
    checked = 0
    for path, operations in spec["paths"].items():
        for method, op in operations.items():
            for status, response in op["responses"].items():
                where = f"{method.upper()} {path} {status}"
                if not status.startswith("2"):
                    continue
                content = response.get("content", {})
                if status == "204":
                    assert not content, where
                    continue
                assert content, f"{where}: names no media type"
                if "application/json" not in content:
                    assert all(media.startswith(("application/vnd.", "text/csv")) for media in content), where
                    continue
                media = content["application/json"]
                examples = examples_of(media, schemas)
                assert examples, f"{where}: no example"
                validator = jsonschema_rs.validator_for({**media["schema"], "components": spec["components"]}, validate_formats=True)
                for example in examples:
                    errors = [f"{'/'.join(map(str, e.instance_path))}: {e.message}" for e in validator.iter_errors(example)]
                    assert not errors, f"{where}: {errors}"
                    checked += 1
    assert checked >= 70  # every JSON answer of the API, not a few


def test_response_examples_are_what_the_models_would_send():
    """An example read through its response model and written back is unchanged: computed fields (region_name,
    progress) agree with the fields they come from, and nothing in it is dropped or reshaped on the way out."""
    models: set[type[BaseModel]] = set()
    for context in iter_route_contexts(create_app().routes):
        route = context.original_route
        if isinstance(route, APIRoute) and route.response_model is not None:
            model = route.response_model
            models.update(arg for arg in (model, *get_args(model)) if isinstance(arg, type) and issubclass(arg, BaseModel))
    assert len(models) >= 25
    for model in models:
        examples = model.model_json_schema(mode="serialization")["examples"]
        for example in examples:
            assert model.model_validate(example, by_name=True).model_dump(mode="json", by_alias=True) == example, model.__name__
