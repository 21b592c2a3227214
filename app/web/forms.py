"""Forms to request bodies and back: the pages validate with the API's own Pydantic models.

`nest` turns flat form names into the nested JSON a request body has (`contact.name`,
`schedule.0.title`; names ending in `[]` collect every value into a list); empty fields are
left out, so an optional field left blank is simply not sent. `FormErrors` turns a
`ValidationError` or a service's `AppError` into Chinese messages keyed by the same dotted
names, which the `field` macro (templates/_form.html) shows beside each input, and keeps the
status the API would answer with (422 for bad input, the service's 403, 404, 409 or 412 for a
refusal), so a page answers as the API does while still showing the form. `answer_form` is the
whole answer to a posted form: the change and a redirect, or the page again with the messages.
"""

import re
from collections.abc import Callable
from typing import Any, TypeVar

from fastapi.responses import RedirectResponse, Response
from pydantic import BaseModel, ValidationError
from sqlalchemy.orm import Session
from starlette.datastructures import FormData

from app.control_chars import first_control_character
from app.errors import AppError
from app.imports import reasons
from app.web.csrf import FIELD as CSRF_FIELD

T = TypeVar("T")
_CHINESE = re.compile(r"[\u4e00-\u9fff]")


def nest(form: FormData, *, keep_empty: tuple[str, ...] = ()) -> dict[str, Any]:
    """The form as a nested dict. A blank field is dropped unless named in `keep_empty`
    (where blank means "clear it", sent as None)."""
    result: dict[str, Any] = {}
    for name in dict.fromkeys(form.keys()):
        if name == CSRF_FIELD:
            continue
        if name.endswith("[]"):
            values: Any = [value.strip() for value in form.getlist(name) if isinstance(value, str) and value.strip()]
            name = name[:-2]
        else:
            last = form.getlist(name)[-1]  # a hidden "false" followed by a checked box: the box wins
            values = last.strip() if isinstance(last, str) else last
            if values == "":
                if name not in keep_empty:
                    continue
                values = None
        _put(result, name.split("."), values)
    return _lists(result)


def _put(target: dict[str, Any], path: list[str], value: Any) -> None:
    for part in path[:-1]:
        target = target.setdefault(part, {})
    target[path[-1]] = value


def _lists(value: Any) -> Any:
    """Dicts whose keys are all digits (`schedule.0`, `schedule.1`) become lists, in order."""
    if not isinstance(value, dict):
        return value
    if value and all(key.isdigit() for key in value):
        return [_lists(value[key]) for key in sorted(value, key=int)]
    return {key: _lists(item) for key, item in value.items()}


def message_of(error: AppError) -> str:
    """A service's error for a person: its own words when Chinese, else a Chinese gist (无权修改,
    与记录当前状态冲突, …) before the API's English message."""
    return error.msg if _CHINESE.search(error.msg) else reasons.of_app_error(error)


class FormErrors(Exception):
    """Messages to show, keyed by dotted field name ("" for the form as a whole), and the
    status to answer with."""

    def __init__(self, errors: dict[str, str], status_code: int = 422):
        super().__init__(errors)
        self.errors = errors
        self.status_code = status_code

    def as_whole_form(self) -> "FormErrors":
        """The messages as one, for a form whose fields are all hidden (nothing to show them beside)."""
        return FormErrors({"": "；".join(dict.fromkeys(self.errors.values()))}, self.status_code)

    @classmethod
    def of(cls, error: ValidationError | AppError) -> "FormErrors":
        if isinstance(error, AppError):
            in_body = error.loc[:1] == ["body"]
            return cls({".".join(map(str, error.loc[1:])) if in_body else "": message_of(error)}, error.status_code)
        errors: dict[str, str] = {}
        for problem in error.errors():
            key = ".".join(str(part) for part in problem["loc"])
            message = problem["msg"].removeprefix("Value error, ")
            errors.setdefault(key, message if _CHINESE.search(message) else reasons.of_validation(problem))
        return cls(errors)


def validate(model: type[BaseModel], data: dict[str, Any]) -> Any:
    """`data` as `model`, the API's request body; FormErrors when it is not valid.

    Control characters are refused as the API's middleware refuses them in JSON bodies.
    """
    found = first_control_character(data, [])
    if found:
        where, _ = found
        raise FormErrors({".".join(map(str, where)): "含有不可见的控制字符 / contains a control character"})
    try:
        return model.model_validate(data)
    except ValidationError as error:
        raise FormErrors.of(error) from None


def attempt(session: Session, action: Callable[[], T]) -> T | FormErrors:
    """Runs a page's change: its result, or on a form error or a service's refusal the
    FormErrors to show (with their status), the transaction rolled back so nothing
    half-written is committed."""
    try:
        return action()
    except (FormErrors, AppError) as error:
        session.rollback()
        return error if isinstance(error, FormErrors) else FormErrors.of(error)


def answer_form(session: Session, action: Callable[[], object], *, page: Callable[..., Response], target: str,
                values: dict[str, Any], done: str) -> Response:
    """Runs a posted form's change (see `attempt`) and sends the person on to `done` (303 See
    Other, so reloading does not post again); when it is refused, `page` again with the messages
    for the form `target` names, the values as they were typed and the refusal's status."""
    outcome = attempt(session, action)
    if isinstance(outcome, FormErrors):
        return page(errors=outcome.errors, values=values, target=target, status_code=outcome.status_code)
    return RedirectResponse(done, status_code=303)


def placed(errors: dict[str, str], fields: tuple[str, ...]) -> dict[str, str]:
    """`errors` for a form showing `fields`: a message about anything else (a state named by the
    service's `loc`, a hidden input) goes to the form as a whole (""), so no message is lost."""
    shown: dict[str, str] = {}
    for key, message in errors.items():
        if any(key == name or key.startswith(name + ".") for name in fields):
            shown[key] = message
        else:
            shown[""] = f"{shown['']}；{message}" if "" in shown else message
    return shown
