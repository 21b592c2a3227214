"""Jinja2 templates, the navigation and the display filters shared by every page.

`render` fills in what the base layout needs (the signed-in user, the CSRF token, the
navigation items the user's role may use). A page group adds itself to the navigation by
appending a `NavItem` to `NAV` in its module.
"""

import re
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from typing import Any

from fastapi import Request
from fastapi.responses import HTMLResponse
from fastapi.templating import Jinja2Templates
from markupsafe import Markup, escape

from app.auth import ROLES
from app.catalog.codes import COOPERATION_MODES, FIELDS, MATURITY, ORGANIZATION_KINDS
from app.catalog.regions import Region
from app.clock import CHINA_TZ
from app.imports.columns import STATUS_LABELS
from app.web import csrf

TEMPLATES = Path(__file__).parent / "templates"
BAND_LABELS = {"strong": "强相关", "possible": "可能相关", "weak": "弱相关"}
ROLE_LABELS = {"owner": "负责人", "broker": "技术经纪人", "admin": "管理员", "reader": "只读"}
assert set(ROLE_LABELS) == set(ROLES)


@dataclass(frozen=True)
class NavItem:
    """One link of the top navigation; `roles` limits who sees it (None: everyone signed in)."""

    label: str
    path: str
    roles: tuple[str, ...] | None = None


NAV: list[NavItem] = []

templates = Jinja2Templates(directory=TEMPLATES)


def _money(yuan: int | None) -> str:
    """An amount in yuan as 万元, the unit the lists are read in."""
    if yuan is None:
        return "—"
    return f"{yuan / 10_000:,.2f}".rstrip("0").rstrip(".") + " 万元"


def _when(value: datetime | date | None) -> str:
    if value is None:
        return "—"
    if isinstance(value, datetime):
        return value.astimezone(CHINA_TZ).strftime("%Y-%m-%d %H:%M")
    return value.isoformat()


def _region(code: str | None) -> str:
    return Region(code).name if code else "—"


_EM = re.compile(r"(</?em>)")


def _highlighted(text: str | None) -> Markup:
    """The API's match highlight: its `<em>` tags kept (balanced), everything else escaped."""
    out, open_tags = [], 0
    for piece in _EM.split(text or ""):
        if piece == "<em>":
            out.append('<em class="hit">')
            open_tags += 1
        elif piece == "</em>" and open_tags:
            out.append("</em>")
            open_tags -= 1
        elif piece != "</em>":
            out.append(str(escape(piece)))
    return Markup("".join(out) + "</em>" * open_tags)


def _labels(codes: dict[str, str]):
    def label(value: Any) -> str:
        if isinstance(value, (list, tuple)):
            return "、".join(codes.get(item, str(item)) for item in value) or "—"
        return codes.get(value, str(value)) if value else "—"

    return label


templates.env.filters.update(
    money=_money,
    highlighted=_highlighted,
    when=_when,
    region=_region,
    field_label=_labels(FIELDS),
    mode_label=_labels(COOPERATION_MODES),
    maturity_label=_labels(MATURITY),
    status_label=_labels(STATUS_LABELS),
    kind_label=_labels(ORGANIZATION_KINDS),
    role_label=_labels(ROLE_LABELS),
)
def _error_for(errors: dict[str, str] | None, name: str) -> str | None:
    """The message for field `name`, or the first one for a part of it (`contact.phone` under `contact`)."""
    if not errors:
        return None
    if name in errors:
        return errors[name]
    return next((message for key, message in errors.items() if key.startswith(name + ".")), None)


templates.env.globals.update(
    error_for=_error_for, BAND_LABELS=BAND_LABELS, FIELDS=FIELDS, MODES=COOPERATION_MODES, MATURITY=MATURITY, ROLE_LABELS=ROLE_LABELS,
)


def render(request: Request, name: str, context: dict[str, Any] | None = None, *, status_code: int = 200) -> HTMLResponse:
    """The template `name` with the layout's context: `web_user`, `csrf_token`, `nav`."""
    web_user = getattr(request.state, "web_user", None)
    nav = [item for item in NAV if web_user and (item.roles is None or web_user.role in item.roles)]
    full = {"web_user": web_user, "nav": nav, "csrf_token": csrf.token_for(request), **(context or {})}
    response = templates.TemplateResponse(request, name, full, status_code=status_code)
    response.headers["Cache-Control"] = "no-store"
    csrf.set_anonymous_cookie(request, response)
    return response
