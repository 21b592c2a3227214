"""Pydantic pieces shared by every domain: ids, contact, region, pagination."""

import re
from datetime import date, datetime
from typing import Annotated, Any, Generic, TypeVar, get_args

import annotated_types
from pydantic import AfterValidator, BaseModel, ConfigDict, Field

from app.catalog.regions import parse_region

T = TypeVar("T")

MAX_PAGE_SIZE = 100
MAX_PAGE = 1_000_000
# Ids are 32-bit on PostgreSQL; a larger number names no record and must not reach the database
# (SQLite cannot even bind one above 2**63). Every id a request carries, in the path, the query
# or the body, has this type, so an impossible id is a 422 that names where it was.
MAX_ID = 2**31 - 1
Id = Annotated[int, annotated_types.Ge(1), annotated_types.Le(MAX_ID)]

# Dates a request may carry: contact records, contracts, deadlines, filters. A number such as 0 is
# read as a Unix time (1970) and a typo can give year 0097; neither is a date anyone meant.
EARLIEST_YEAR, LATEST_YEAR = 2000, 2100


def _plausible(value: date) -> date:
    if not EARLIEST_YEAR <= value.year <= LATEST_YEAR:
        raise ValueError(
            f"{value.isoformat()[:10]} is outside {EARLIEST_YEAR}–{LATEST_YEAR}; send a date such as 2026-11-25 / 日期须在 "
            f"{EARLIEST_YEAR}–{LATEST_YEAR} 年之间"
        )
    return value


PlausibleDate = Annotated[date, AfterValidator(_plausible)]
PlausibleDateTime = Annotated[datetime, AfterValidator(_plausible)]


def _region_code(value: str) -> str:
    return parse_region(value).code


RegionCode = Annotated[
    str,
    Field(
        max_length=64,
        description="6-digit administrative code (220104) or name path (吉林省/长春市/朝阳区)",
        examples=["220104"],
    ),
    AfterValidator(_region_code),
]

_PHONE = re.compile(r"^[0-9+\-() ]{5,20}$")
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


def _phone(value: str | None) -> str | None:
    if value and not _PHONE.match(value):
        raise ValueError("phone may hold only digits, spaces, + - ( ) and 5–20 characters")
    return value


def email_address(value: str | None) -> str | None:
    if value and not _EMAIL.match(value):
        raise ValueError("email is not a valid address")
    return value


class Contact(BaseModel):
    """联系人 and how to reach them."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field("", max_length=100, examples=["王工"])
    phone: Annotated[str | None, AfterValidator(_phone)] = Field(None, examples=["0431-85100000"])
    email: Annotated[str | None, AfterValidator(email_address)] = Field(None, max_length=200)


def _page_example(schema: dict[str, Any], model: type[BaseModel]) -> None:
    """The example of a `Page[Item]`: the second page of 21 records, so one item, Item's own example."""
    (item,) = get_args(model.model_fields["items"].annotation)
    if isinstance(item, type) and issubclass(item, BaseModel):
        examples = item.model_json_schema(mode="serialization").get("examples")
        if examples:
            schema["examples"] = [{"items": examples[:1], "total": 21, "page": 2, "size": 20}]


class Page(BaseModel, Generic[T]):
    """One page of a list: `{"items": [...], "total": N, "page": P, "size": S}`."""

    model_config = ConfigDict(json_schema_extra=_page_example)

    items: list[T]
    total: int
    page: int
    size: int


class PageQuery(BaseModel):
    page: int = Field(1, ge=1, le=MAX_PAGE, description="1-based page number")
    size: int = Field(20, ge=1, le=MAX_PAGE_SIZE, description=f"items per page, at most {MAX_PAGE_SIZE}")
