"""Field types and base bodies both sides share.

Each type validates and normalises one input (codes given as Chinese labels become codes),
so an error names the exact field and item that is wrong.
"""

import copy
from datetime import date, datetime
from typing import TYPE_CHECKING, Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    AliasChoices,
    BaseModel,
    ConfigDict,
    Field,
    computed_field,
    create_model,
)

from app.catalog.codes import COOPERATION_MODES, FIELDS, to_code
from app.catalog.regions import Region
from app.clock import china_today
from app.listings.status import LISTING
from app.schemas import Contact, Id, PageQuery, PlausibleDate, PlausibleDateTime, RegionCode

MAX_TEXT = 20_000
MAX_TITLE = 200
MAX_AMOUNT = 10**13  # yuan


def code_validator(codes: dict[str, str], what: str):
    """Maps a code or its Chinese label to the code; the `code_schema` lists only the codes."""

    def validate(value: str) -> str:
        code = to_code(value, codes)
        if code is None:
            raise ValueError(f"unknown {what} {value!r}; see GET /api/v1/codes for the list")
        return code

    return validate


def code_schema(codes: dict[str, str]) -> Any:
    """Documents a code list as an enum of its codes (labels are accepted too, see `code_validator`)."""
    return Field(json_schema_extra={"enum": list(codes)})


def unique(values: list[str]) -> list[str]:
    return list(dict.fromkeys(values))


def _not_past(value: date | None) -> date | None:
    if value is not None and value < china_today():
        raise ValueError(f"deadline {value.isoformat()} is in the past")
    return value


Title = Annotated[str, Field(min_length=1, max_length=MAX_TITLE, examples=["新能源汽车冬季续航衰减问题"])]
LongText = Annotated[str, Field(min_length=1, max_length=MAX_TEXT)]
FieldCode = Annotated[str, code_schema(FIELDS), AfterValidator(code_validator(FIELDS, "field code"))]
FieldCodes = Annotated[list[FieldCode], Field(max_length=10, examples=[["automotive", "new_energy"]]), AfterValidator(unique)]
ModeCode = Annotated[str, code_schema(COOPERATION_MODES), AfterValidator(code_validator(COOPERATION_MODES, "cooperation mode"))]
ModeCodes = Annotated[list[ModeCode], Field(max_length=len(COOPERATION_MODES)), AfterValidator(unique)]
Keyword = Annotated[str, Field(min_length=1, max_length=50)]
Keywords = Annotated[list[Keyword], Field(max_length=30, examples=[["热管理", "低温"]]), AfterValidator(unique)]
Amount = Annotated[int, Field(ge=0, le=MAX_AMOUNT, description="yuan (元)")]
Deadline = Annotated[PlausibleDate, AfterValidator(_not_past)]


class ListingCreate(BaseModel):
    """What every new listing may carry; only the title and the long text are required."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    title: Title
    fields: FieldCodes = []
    keywords: Keywords = []
    negotiable: bool = Field(False, description="面议: the amount is to be negotiated")
    region: RegionCode | None = None
    contact: Contact = Field(default_factory=Contact)
    status: Literal["draft", "published"] = Field("draft", description='"published" publishes at once')


def partial_of(model: type[BaseModel], name: str) -> type[BaseModel]:
    """The PATCH body of `model`: every field optional, same types and checks, no `status`.

    An omitted field is left alone; `null` clears an optional field and is refused for a
    required one (its type does not admit None).
    """
    fields: dict[str, Any] = {}
    for field_name, info in model.model_fields.items():
        if field_name == "status":
            continue
        optional = copy.copy(info)
        optional.default = None
        optional.default_factory = None
        fields[field_name] = (info.annotation, optional)
    return create_model(name, __config__=ConfigDict(extra="forbid", str_strip_whitespace=True), **fields)


class ListingRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    owner_org_id: Id
    title: str
    fields: list[str]
    keywords: list[str]
    negotiable: bool
    region: str | None = Field(validation_alias=AliasChoices("region", "region_code"))
    contact: Contact
    status: str
    created_at: datetime
    updated_at: datetime
    published_at: datetime | None
    version: int = Field(description="counts every change; sent back as the ETag, checked against If-Match")

    @computed_field
    def region_name(self) -> str | None:
        return Region(self.region).name if self.region else None


class StatusChange(BaseModel):
    model_config = ConfigDict(extra="forbid")

    reason: str = Field("", max_length=500, description="why, kept in the history")


class ListingFilters(BaseModel):
    """Hard filters shared by the list endpoints and matching."""

    model_config = ConfigDict(extra="forbid")

    field: list[FieldCode] = Field([], description="any of these field codes")
    region: RegionCode | None = Field(None, description="a region at any level: 220000, 220100 or 220104")
    mode: ModeCode | None = Field(None, description="offers this cooperation/transfer mode")
    owner_org_id: Id | None = None
    updated_since: PlausibleDateTime | None = None
    q: str | None = Field(None, min_length=1, max_length=100, description="words that must all appear in the title or text")


# Built from the one list at run time; a type checker sees the plain string it validates to.
if TYPE_CHECKING:
    ListingStatus = str
else:
    ListingStatus = Literal[LISTING.states]


class ListingQuery(ListingFilters, PageQuery):
    """What every list endpoint accepts: the filters, a status, sorting and paging."""

    status: ListingStatus | None = None
    sort: str = Field("-updated_at", description="a sortable column, '-' for descending")
