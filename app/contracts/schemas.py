"""Request and response bodies for technology contracts."""

from datetime import date, datetime
from typing import TYPE_CHECKING, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from app.contracts.models import CONTRACT_TYPES
from app.listings.schemas import Amount
from app.schemas import Id, PlausibleDate

# Built from the one list at run time; a type checker sees the plain string it validates to.
if TYPE_CHECKING:
    ContractType = str
else:
    ContractType = Literal[tuple(CONTRACT_TYPES)]
_LINKS = ("shortlist_entry_id", "proposal_id", "demand_id", "achievement_id")


class ContractCreate(BaseModel):
    """A signed 技术合同; at least one link to where it came from."""

    model_config = ConfigDict(
        extra="forbid",
        str_strip_whitespace=True,
        json_schema_extra={
            "examples": [
                {
                    "contract_type": "licensing",
                    "title": "动力电池低温热管理技术许可合同",
                    "amount": 1200000,
                    "signed_on": "2026-11-20",
                    "registration_number": "2026220100000123",
                    "shortlist_entry_id": 5,
                }
            ]
        },
    )

    contract_type: ContractType = Field(description=", ".join(f"{code} {label}" for code, label in CONTRACT_TYPES.items()))
    title: str = Field("", max_length=200)
    amount: Amount
    signed_on: PlausibleDate
    registration_number: str | None = Field(None, min_length=1, max_length=40, description="技术合同认定登记号, when registered")
    shortlist_entry_id: Id | None = None
    proposal_id: Id | None = Field(None, description="an awarded proposal")
    demand_id: Id | None = None
    achievement_id: Id | None = None
    note: str = Field("", max_length=2000)

    @model_validator(mode="after")
    def _at_least_one_link(self):
        if all(getattr(self, link) is None for link in _LINKS):
            raise ValueError(f"link the contract to at least one of: {', '.join(_LINKS)}")
        return self


class ContractRead(BaseModel):
    model_config = ConfigDict(
        from_attributes=True,
        json_schema_extra={
            "examples": [
                {
                    "id": 9,
                    "contract_type": "transfer",
                    "title": "秸秆纤维素糖化制备L-乳酸技术转让合同",
                    "amount": 2800000,
                    "signed_on": "2026-12-18",
                    "registration_number": "2026220200000123",
                    "shortlist_entry_id": 5,
                    "proposal_id": None,
                    "demand_id": 12,
                    "achievement_id": 34,
                    "note": "首付款30%，中试验收后付清",
                    "recorded_by_org_id": 4,
                    "created_at": "2026-12-19T01:30:00Z",
                }
            ]
        },
    )

    id: int
    contract_type: str
    title: str
    amount: int
    signed_on: date
    registration_number: str | None
    shortlist_entry_id: Id | None
    proposal_id: Id | None
    demand_id: Id | None
    achievement_id: Id | None
    note: str
    recorded_by_org_id: Id
    created_at: datetime
