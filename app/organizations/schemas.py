"""Request and response bodies for organizations."""

from datetime import datetime
from typing import TYPE_CHECKING, Annotated, Literal

from pydantic import (
    AfterValidator,
    AliasChoices,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    computed_field,
)

from app.catalog.codes import ORGANIZATION_KINDS, to_code
from app.catalog.identifiers import credit_code_problem
from app.catalog.regions import Region
from app.schemas import Contact, RegionCode


def _kind_code(value: object) -> object:
    """A kind given as its Chinese label (企业) becomes its code, as every code list accepts."""
    return (to_code(value, ORGANIZATION_KINDS) or value) if isinstance(value, str) else value


# Built from the one list at run time; a type checker sees the plain string it validates to.
if TYPE_CHECKING:
    OrganizationKind = str
else:
    OrganizationKind = Annotated[Literal[tuple(ORGANIZATION_KINDS)], BeforeValidator(_kind_code)]


def _credit_code(value: str | None) -> str | None:
    if value is None:
        return None
    value = value.strip().upper()
    problem = credit_code_problem(value)
    if problem:
        raise ValueError(problem)
    return value


CreditCode = Annotated[str | None, AfterValidator(_credit_code)]
BrokerScope = Literal["province", "assigned"]
_BROKER_SCOPE = "for broker keys: `province` acts for every organization, `assigned` only for those assigned to it (admins set this)"


class OrganizationCreate(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "name": "长春某汽车零部件有限公司",
                    "kind": "enterprise",
                    "credit_code": "91350100M000100Y43",
                    "region": "220104",
                    "contact": {"name": "王工", "phone": "0431-85100000"},
                }
            ]
        },
    )

    name: str = Field(min_length=1, max_length=200)
    kind: OrganizationKind
    credit_code: CreditCode = Field(None, description="统一社会信用代码, 18 characters")
    region: RegionCode | None = None
    contact: Contact = Field(default_factory=Contact)
    broker_scope: BrokerScope = Field("assigned", description=_BROKER_SCOPE)


class OrganizationUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str | None = Field(None, min_length=1, max_length=200)
    credit_code: CreditCode = None
    region: RegionCode | None = None
    contact: Contact | None = None
    broker_scope: BrokerScope | None = Field(None, description=_BROKER_SCOPE)


class OrganizationRead(BaseModel):
    model_config = ConfigDict(
        from_attributes=True,
        json_schema_extra={
            "examples": [
                {
                    "id": 2,
                    "name": "长春某汽车零部件有限公司",
                    "kind": "enterprise",
                    "credit_code": "91350100M000100Y43",
                    "region": "220104",
                    "contact": {"name": "王工", "phone": "0431-85100000", "email": "wanggong@example.com"},
                    "broker_scope": "assigned",
                    "created_at": "2026-03-02T01:15:20Z",
                    "updated_at": "2026-09-14T06:40:03Z",
                    "region_name": "吉林省/长春市/朝阳区",
                }
            ]
        },
    )

    id: int
    name: str
    kind: str
    credit_code: str | None
    region: str | None = Field(validation_alias=AliasChoices("region", "region_code"))
    contact: Contact
    broker_scope: str
    created_at: datetime
    updated_at: datetime

    @computed_field
    def region_name(self) -> str | None:
        return Region(self.region).name if self.region else None
