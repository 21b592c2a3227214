"""Request and response bodies for the shortlist, contact records and match feedback."""

from datetime import datetime
from typing import TYPE_CHECKING, Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from app.brokerage.status import SHORTLIST
from app.schemas import Id, PlausibleDate

_STRICT = ConfigDict(extra="forbid", str_strip_whitespace=True)
Score = Annotated[float, Field(ge=-1_000, le=1_000, description="the match score shown to the broker")]
Rank = Annotated[int, Field(ge=1, le=10_000, description="the achievement's rank in the match list, from 1")]
# Built from the one list at run time; a type checker sees the plain string it validates to.
if TYPE_CHECKING:
    ShortlistStatus = str
else:
    ShortlistStatus = Literal[tuple(SHORTLIST.states)]
Channel = Literal["phone", "visit", "meeting", "email", "online", "other"]


class ShortlistCreate(BaseModel):
    """A pair for the broker's 对接清单; with a match score or rank it counts as taken from a match."""

    model_config = ConfigDict(
        extra="forbid",
        str_strip_whitespace=True,
        json_schema_extra={"examples": [
            {"demand_id": 12, "achievement_id": 34, "note": "成果可直接用于该企业冬季车型", "match_score": 0.83, "match_rank": 1},
        ]},
    )

    demand_id: Id
    achievement_id: Id
    note: str = Field("", max_length=2000)
    match_score: Score | None = None
    match_rank: Rank | None = None


class ShortlistMove(BaseModel):
    """The next stage of a pair; `dropped` needs a reason. `contract_signed` comes from recording a contract."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True, json_schema_extra={"examples": [{"status": "contacted"}]})

    status: ShortlistStatus
    reason: str = Field("", max_length=500, description="why; required for dropped")

    @model_validator(mode="after")
    def _reason_for_drop(self):
        if self.status == "dropped" and not self.reason:
            raise ValueError("a dropped pair needs a reason")
        return self


class ShortlistQuery(BaseModel):
    model_config = ConfigDict(extra="forbid")

    status: ShortlistStatus | None = None
    demand_id: Id | None = None
    achievement_id: Id | None = None


class ContactCreate(BaseModel):
    """对接记录: who met whom, when and how, and what came of it."""

    model_config = ConfigDict(
        extra="forbid",
        str_strip_whitespace=True,
        json_schema_extra={
            "examples": [
                {
                    "contact_date": "2026-11-20", "parties": ["长春某汽车零部件有限公司 王经理", "吉林大学 李教授"], "channel": "visit",
                    "notes": "双方就技术许可达成初步意向",
                }
            ]
        },
    )

    contact_date: PlausibleDate
    parties: Annotated[list[Annotated[str, Field(min_length=1, max_length=200)]], Field(min_length=1, max_length=20)]
    channel: Channel
    notes: str = Field("", max_length=5000)


CONTACT_EXAMPLE: dict[str, Any] = {
    "id": 8,
    "contact_date": "2026-11-20",
    "parties": ["吉林市某化工有限公司 刘经理", "吉林大学 李教授", "吉林省技术转移中心 陈经纪人"],
    "channel": "visit",
    "notes": "企业赴校考察百吨级中试线，双方就技术转让达成初步意向，下周提交合同草案。",
    "created_at": "2026-11-20T09:15:00Z",
}


class ContactRead(BaseModel):
    model_config = ConfigDict(from_attributes=True, json_schema_extra={"examples": [CONTACT_EXAMPLE]})

    id: int
    contact_date: PlausibleDate
    parties: list[str]
    channel: str
    notes: str
    created_at: datetime


class ShortlistRead(BaseModel):
    model_config = ConfigDict(
        from_attributes=True,
        json_schema_extra={
            "examples": [
                {
                    "id": 5,
                    "broker_org_id": 4,
                    "demand_id": 12,
                    "achievement_id": 34,
                    "status": "negotiating",
                    "source": "match",
                    "match_score": 0.9363,
                    "match_rank": 1,
                    "note": "成果已完成百吨级中试，可直接支撑企业聚乳酸项目",
                    "drop_reason": "",
                    "created_at": "2026-11-16T02:00:00Z",
                    "updated_at": "2026-11-27T03:40:00Z",
                    "contacts": [CONTACT_EXAMPLE],
                }
            ]
        },
    )

    id: int
    broker_org_id: Id
    demand_id: Id
    achievement_id: Id
    status: str
    source: str = Field(description="match (a score or rank was given) or manual")
    match_score: float | None
    match_rank: int | None
    note: str
    drop_reason: str
    created_at: datetime
    updated_at: datetime
    contacts: list[ContactRead]


class FeedbackCreate(BaseModel):
    """A broker's verdict on a suggested match; a not-useful verdict needs a reason."""

    model_config = ConfigDict(
        extra="forbid",
        str_strip_whitespace=True,
        json_schema_extra={"examples": [{
            "demand_id": 12, "achievement_id": 34, "useful": False, "reason": "成果仍处于实验室阶段，企业需要量产方案",
            "match_score": 0.71, "match_rank": 2,
        }]},
    )

    demand_id: Id
    achievement_id: Id
    useful: bool
    reason: str = Field("", max_length=500)
    match_score: Score | None = None
    match_rank: Rank | None = None

    @model_validator(mode="after")
    def _reason_when_not_useful(self):
        if not self.useful and not self.reason:
            raise ValueError("say why the match is not useful")
        return self


class FeedbackQuery(BaseModel):
    model_config = ConfigDict(extra="forbid")

    useful: bool | None = None
    demand_id: Id | None = None
    achievement_id: Id | None = None


class FeedbackRead(BaseModel):
    model_config = ConfigDict(
        from_attributes=True,
        json_schema_extra={
            "examples": [
                {
                    "id": 3,
                    "broker_org_id": 4,
                    "demand_id": 12,
                    "achievement_id": 29,
                    "useful": False,
                    "reason": "成果仍处于实验室阶段，企业需要可放大的中试工艺",
                    "match_score": 0.71,
                    "match_rank": 2,
                    "created_at": "2026-11-16T02:05:00Z",
                }
            ]
        },
    )

    id: int
    broker_org_id: Id
    demand_id: Id
    achievement_id: Id
    useful: bool
    reason: str
    match_score: float | None
    match_rank: int | None
    created_at: datetime


class AssignmentCreate(BaseModel):
    """委托: the broker organization will act for the client organization."""

    model_config = ConfigDict(
        extra="forbid", str_strip_whitespace=True,
        json_schema_extra={"examples": [{"broker_org_id": 4, "org_id": 2, "note": "2026年度技术经纪服务协议"}]},
    )

    broker_org_id: Id
    org_id: Id = Field(description="the client organization the broker acts for")
    note: str = Field("", max_length=500)


class AssignmentQuery(BaseModel):
    model_config = ConfigDict(extra="forbid")

    broker_org_id: Id | None = None
    org_id: Id | None = None


class AssignmentRead(BaseModel):
    model_config = ConfigDict(
        from_attributes=True,
        json_schema_extra={
            "examples": [
                {"id": 2, "broker_org_id": 4, "org_id": 3, "note": "2026年度技术经纪服务协议", "created_at": "2026-01-05T01:00:00Z"}
            ]
        },
    )

    id: int
    broker_org_id: Id
    org_id: Id
    note: str
    created_at: datetime
