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
