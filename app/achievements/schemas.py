"""Request and response bodies for achievements."""

from typing import Annotated, Any

from pydantic import AfterValidator, BaseModel, ConfigDict, Field

from app.catalog.codes import MATURITY
from app.catalog.identifiers import normalize_patent, patent_problem
from app.listings.schemas import (
    Amount,
    ListingCreate,
    ListingFilters,
    ListingQuery,
    ListingRead,
    LongText,
    ModeCodes,
    code_schema,
    code_validator,
    partial_of,
    unique,
)


def _patent(value: str) -> str:
    value = normalize_patent(value)
    problem = patent_problem(value)
    if problem:
        raise ValueError(problem)
    return value


Patent = Annotated[str, Field(max_length=40), AfterValidator(_patent)]
MaturityCode = Annotated[str, code_schema(MATURITY), AfterValidator(code_validator(MATURITY, "maturity"))]


class Team(BaseModel):
    """The research team and its lead (成果负责人)."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    lead: str = Field("", max_length=100, examples=["李教授"])
    members: list[Annotated[str, Field(min_length=1, max_length=100)]] = Field([], max_length=50)


EXAMPLE: dict[str, Any] = {
    "title": "动力电池低温热管理与快速预热技术",
    "abstract": "针对锂离子动力电池在低温环境下容量衰减、内阻增大的问题，研制了基于脉冲自加热与热泵耦合的"
    "电池热管理系统，-20℃下5分钟内升温至10℃，整车冬季续航提升25%以上。",
    "fields": ["new_energy", "automotive"],
    "keywords": ["低温热管理", "脉冲自加热", "热泵"],
    "maturity": "pilot",
    "trl": 6,
    "patents": ["ZL201710601862.3"],
    "transfer_modes": ["licensing", "development"],
    "price_min": 500000,
    "price_max": 1500000,
    "team": {"lead": "李教授", "members": ["张博士", "赵工"]},
    "institution": "吉林大学",
    "region": "220104",
    "status": "published",
}


class AchievementCreate(ListingCreate):
    model_config = ConfigDict(json_schema_extra={"examples": [EXAMPLE]})

    abstract: LongText
    maturity: MaturityCode | None = Field(None, description="lab 实验室 / small_pilot 小试 / pilot 中试 / industrial 产业化")
    trl: int | None = Field(None, ge=1, le=9, description="technology readiness level 1–9")
    patents: Annotated[list[Patent], Field(max_length=50), AfterValidator(unique)] = []
    transfer_modes: ModeCodes = []
    price_min: Amount | None = None
    price_max: Amount | None = None
    team: Team = Field(default_factory=Team)
    institution: str = Field("", max_length=200, examples=["吉林大学"])


AchievementUpdate = partial_of(AchievementCreate, "AchievementUpdate")


# A university's published 科技成果 as the API answers it; also the record of a demand's matches.
READ_EXAMPLE: dict[str, Any] = {
    "id": 34,
    "owner_org_id": 5,
    "title": "秸秆纤维素低成本糖化制备L-乳酸技术",
    "fields": ["agri_corn_straw", "bio_based_materials"],
    "keywords": ["秸秆", "L-乳酸", "纤维素酶", "聚乳酸"],
    "negotiable": False,
    "region": "220102",
    "contact": {"name": "李教授", "phone": "0431-85160000", "email": "li@example.edu.cn"},
    "status": "published",
    "created_at": "2026-10-09T03:12:45Z",
    "updated_at": "2026-10-10T08:00:00Z",
    "published_at": "2026-10-10T08:00:00Z",
    "version": 2,
    "abstract": "采用稀碱-蒸汽爆破联合预处理与复合纤维素酶高效酶解，秸秆糖化率达85%以上，经耐高温凝结芽孢杆菌发酵"
    "制得高光学纯度L-乳酸，可用于聚乳酸生产，已完成百吨级中试。",
    "maturity": "pilot",
    "trl": 6,
    "patents": ["ZL201710601862.3"],
    "transfer_modes": ["transfer", "licensing", "development"],
    "price_min": 1000000,
    "price_max": 3000000,
    "team": {"lead": "李教授", "members": ["张博士", "赵工"]},
    "institution": "吉林大学",
    "region_name": "吉林省/长春市/南关区",
}


class AchievementRead(ListingRead):
    model_config = ConfigDict(json_schema_extra={"examples": [READ_EXAMPLE]})

    abstract: str
    maturity: str | None
    trl: int | None
    patents: list[str]
    transfer_modes: list[str]
    price_min: int | None
    price_max: int | None
    team: Team
    institution: str


class AchievementFilters(ListingFilters):
    maturity: list[MaturityCode] = Field([], description="any of these maturity codes")
    price_min: Amount | None = Field(None, description="price range overlaps [price_min, price_max]")
    price_max: Amount | None = None


class AchievementQuery(AchievementFilters, ListingQuery):
    pass
