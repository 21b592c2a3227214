"""Request and response bodies for demands."""

from datetime import date
from typing import TYPE_CHECKING, Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from app.listings.schemas import (
    Amount,
    ListingCreate,
    ListingFilters,
    ListingQuery,
    ListingRead,
    LongText,
    ModeCodes,
    partial_of,
)
from app.listings.status import DEMAND
from app.schemas import PlausibleDate

EXAMPLE: dict[str, Any] = {
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
    "application_deadline": "2027-03-31",
    "delivery_deadline": "2027-12-31",
    "qualifications": {"text": "具有电池热管理研发经验的团队", "university_only": False, "institute_only": False},
    "deliverables": "低温热管理系统样机一套、测试报告、技术资料",
    "acceptance_criteria": "-20℃环境下整车续航衰减不超过20%，经第三方检测机构测试",
    "status": "published",
}


class Qualifications(BaseModel):
    """揭榜条件: who may apply. Flags that are set restrict applicants to those kinds (any of them)."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    text: str = Field("", max_length=2000, description="free text, e.g. 具有相关领域研发经验")
    high_tech_enterprise_only: bool = Field(False, description="高新技术企业 only (enterprises)")
    university_only: bool = Field(False, description="高校 only")
    institute_only: bool = Field(False, description="科研院所 only")


class DemandCreate(ListingCreate):
    model_config = ConfigDict(json_schema_extra={"examples": [EXAMPLE]})

    description: LongText
    reward: Amount | None = Field(None, description="榜额: one amount in yuan")
    budget_min: Amount | None = None
    budget_max: Amount | None = None
    deadline: PlausibleDate | None = None
    cooperation_modes: ModeCodes = []
    application_deadline: PlausibleDate | None = Field(None, description="揭榜申请截止: last day proposals are accepted")
    delivery_deadline: PlausibleDate | None = Field(None, description="交付期限")
    qualifications: Qualifications | None = None
    deliverables: LongText | None = Field(None, description="交付成果")
    acceptance_criteria: LongText | None = Field(None, description="验收标准")


DemandUpdate = partial_of(DemandCreate, "DemandUpdate")


# A published 揭榜 demand as the API answers it; also the record of an achievement's matches.
READ_EXAMPLE: dict[str, Any] = {
    "id": 12,
    "owner_org_id": 3,
    "title": "玉米秸秆制备聚乳酸的低成本工艺",
    "fields": ["agri_corn_straw", "bio_based_materials"],
    "keywords": ["玉米秸秆", "聚乳酸", "酶解糖化"],
    "negotiable": False,
    "region": "220202",
    "contact": {"name": "刘经理", "phone": "0432-62000000", "email": None},
    "status": "published",
    "created_at": "2026-11-18T01:20:11Z",
    "updated_at": "2026-11-20T02:30:00Z",
    "published_at": "2026-11-20T02:30:00Z",
    "version": 3,
    "description": "我公司年处理玉米秸秆20万吨，拟以秸秆纤维素为原料经糖化、发酵制备L-乳酸并聚合为聚乳酸（PLA）。"
    "现有酶解糖化成本过高，需要低成本预处理与高效酶解工艺，使聚乳酸吨成本降至1.5万元以下。",
    "reward": 3000000,
    "budget_min": None,
    "budget_max": None,
    "deadline": None,
    "cooperation_modes": ["development", "transfer"],
    "application_deadline": "2027-03-31",
    "delivery_deadline": "2027-12-31",
    "qualifications": {
        "text": "具有生物质转化或发酵工程研发经验的团队",
        "high_tech_enterprise_only": False,
        "university_only": False,
        "institute_only": False,
    },
    "deliverables": "千吨级中试工艺包一套、中试报告",
    "acceptance_criteria": "千吨级中试线连续运行30天，聚乳酸吨成本不高于1.5万元，经第三方检测机构核验",
    "region_name": "吉林省/吉林市/昌邑区",
}


class DemandRead(ListingRead):
    model_config = ConfigDict(json_schema_extra={"examples": [READ_EXAMPLE]})

    description: str
    reward: int | None
    budget_min: int | None
    budget_max: int | None
    deadline: date | None
    cooperation_modes: list[str]
    application_deadline: date | None
    delivery_deadline: date | None
    qualifications: Qualifications | None
    deliverables: str | None
    acceptance_criteria: str | None


class DemandFilters(ListingFilters):
    budget_min: Amount | None = Field(None, description="offers at least this much (range overlap)")
    budget_max: Amount | None = Field(None, description="asks no more than this (range overlap)")


# Built from the one list at run time; a type checker sees the plain string it validates to.
if TYPE_CHECKING:
    DemandStatus = str
else:
    DemandStatus = Literal[DEMAND.states]


class DemandQuery(DemandFilters, ListingQuery):
    status: DemandStatus | None = None
