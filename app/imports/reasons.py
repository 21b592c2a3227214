"""Row-report reasons in Chinese first (what an office worker reads), the English after (what the API says).

Pydantic's messages are English; each common error type gets a Chinese sentence, filled from the
error's context (`max_length`, `ge`, …), and the original message follows after " / ".
"""

from pydantic_core import ErrorDetails

from app.errors import AppError, Conflict, Forbidden, InvalidInput, NotFound, PreconditionFailed

_PYDANTIC: dict[str, str] = {
    "missing": "必填项缺失",
    "string_too_short": "不能为空",
    "string_too_long": "内容过长（最多 {max_length} 个字符）",
    "too_short": "项数不足（至少 {min_length} 项）",
    "too_long": "项数过多（最多 {max_length} 项）",
    "int_parsing": "不是整数",
    "int_type": "不是整数",
    "int_from_float": "不是整数",
    "float_parsing": "不是数字",
    "bool_parsing": "应填“是”或“否”",
    "date_parsing": "不是日期（例如 2027-06-30）",
    "date_from_datetime_parsing": "不是日期（例如 2027-06-30）",
    "date_type": "不是日期（例如 2027-06-30）",
    "greater_than_equal": "不能小于 {ge}",
    "greater_than": "必须大于 {gt}",
    "less_than_equal": "不能大于 {le}",
    "less_than": "必须小于 {lt}",
    "literal_error": "不是可选的值（{expected}）",
    "string_pattern_mismatch": "格式不正确",
    "string_type": "应为文字",
    "list_type": "应为多个值的列表",
    "extra_forbidden": "不认识的字段",
    "value_error": "取值无效",
}
_APP_ERRORS: list[tuple[type[AppError], str]] = [
    (InvalidInput, "取值无效"),
    (Conflict, "与记录当前状态冲突"),
    (NotFound, "记录不存在"),
    (Forbidden, "无权修改"),
    (PreconditionFailed, "记录已被他人修改，请重新打开后再改"),
]


def both(chinese: str, english: str) -> str:
    return f"{chinese} / {english}"


def of_validation(error: ErrorDetails) -> str:
    """One pydantic error (an item of `ValidationError.errors()`) as a bilingual reason."""
    template = _PYDANTIC.get(error["type"], "取值无效")
    try:
        chinese = template.format(**error.get("ctx") or {})
    except (KeyError, IndexError):  # a context without the expected key: the sentence without its detail
        chinese = template.split("（")[0]
    return both(chinese, error["msg"].removeprefix("Value error, "))


def of_app_error(error: AppError) -> str:
    """An error the listing service raised while writing a row, with a Chinese gist first."""
    chinese = next((text for kind, text in _APP_ERRORS if isinstance(error, kind)), "无法写入")
    return both(chinese, error.msg)
