"""The OpenAPI document partners script against: complete, unambiguous, with Chinese examples."""

import json
import re
import warnings
from pathlib import Path

from fastapi.testclient import TestClient

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
