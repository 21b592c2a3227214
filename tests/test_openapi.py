"""The OpenAPI document partners script against: complete, unambiguous, with Chinese examples."""

import json
import warnings

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
    import re

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
