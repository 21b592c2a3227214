"""Request and response bodies for demands."""

from datetime import date

from pydantic import ConfigDict, Field

from app.listings.schemas import Amount, Deadline, ListingCreate, ListingFilters, ListingQuery, ListingRead, LongText, ModeCodes, partial_of

EXAMPLE = {
    "title": "新能源汽车冬季续航衰减问题",
    "description": "我公司生产的纯电动乘用车在-20℃环境下续航里程衰减超过40%，需要电池低温热管理方案，"
    "要求在不显著增加整车成本的前提下将冬季续航衰减控制在20%以内。",
    "fields": ["automotive", "new_energy"],
    "keywords": ["续航衰减", "电池热管理", "低温"],
    "reward": 2000000,
    "deadline": "2027-06-30",
    "cooperation_modes": ["development", "joint_development"],
    "region": "220104",
    "contact": {"name": "王工", "phone": "0431-85100000"},
    "status": "published",
}


class DemandCreate(ListingCreate):
    model_config = ConfigDict(json_schema_extra={"examples": [EXAMPLE]})

    description: LongText
    reward: Amount | None = Field(None, description="榜额: one amount in yuan")
    budget_min: Amount | None = None
    budget_max: Amount | None = None
    deadline: Deadline | None = None
    cooperation_modes: ModeCodes = []


DemandUpdate = partial_of(DemandCreate, "DemandUpdate")


class DemandRead(ListingRead):
    description: str
    reward: int | None
    budget_min: int | None
    budget_max: int | None
    deadline: date | None
    cooperation_modes: list[str]


class DemandFilters(ListingFilters):
    budget_min: Amount | None = Field(None, description="offers at least this much (range overlap)")
    budget_max: Amount | None = Field(None, description="asks no more than this (range overlap)")


class DemandQuery(DemandFilters, ListingQuery):
    pass
