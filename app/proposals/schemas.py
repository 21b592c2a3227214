"""Request and response bodies for proposals, their review and milestones."""

from datetime import date, datetime
from typing import TYPE_CHECKING, Annotated, Any

from pydantic import AfterValidator, BaseModel, ConfigDict, Field

from app.listings.schemas import Amount, Deadline, LongText, partial_of
from app.schemas import Id

_STRICT = ConfigDict(extra="forbid", str_strip_whitespace=True)
Name = Annotated[str, Field(min_length=1, max_length=100)]
Reason = Annotated[str, Field(min_length=1, max_length=500, description="why, told to the other party and kept in the history")]


def _http_url(value: str) -> str:
    if not value.lower().startswith(("http://", "https://")):
        raise ValueError("url must start with http:// or https://")
    return value


def _unique_ids(values: list[int]) -> list[int]:
    return list(dict.fromkeys(values))


class Lead(BaseModel):
    """挂帅人: the person who answers for the proposal."""

    model_config = _STRICT

    name: Name = Field(examples=["李教授"])
    title: str = Field("", max_length=100, examples=["教授、博士生导师"])
    institution: str = Field("", max_length=200, examples=["吉林大学汽车工程学院"])


class TeamMember(BaseModel):
    model_config = _STRICT

    name: Name
    title: str = Field("", max_length=100)
    role: str = Field("", max_length=200, description="分工")


class MilestoneSpec(BaseModel):
    """One step of a schedule or a pledge: what is due, and when."""

    model_config = _STRICT

    title: Annotated[str, Field(min_length=1, max_length=200, examples=["完成样机试制"])]
    due_date: Deadline


class Attachment(BaseModel):
    """Metadata of a file kept elsewhere (the service stores no files)."""

    model_config = _STRICT

    name: Annotated[str, Field(min_length=1, max_length=200, examples=["技术方案.pdf"])]
    url: Annotated[str, Field(max_length=1000), AfterValidator(_http_url)]
    size: int = Field(ge=0, le=10**11, description="bytes")


Schedule = Annotated[list[MilestoneSpec], Field(min_length=1, max_length=50)]

EXAMPLE: dict[str, Any] = {
    "technical_approach": "采用脉冲自加热与热泵耦合的电池低温热管理方案，结合整车热管理策略优化。",
    "lead": {"name": "李教授", "title": "教授", "institution": "吉林大学汽车工程学院"},
    "team": [{"name": "张博士", "title": "副教授", "role": "热管理系统设计"}],
    "budget": 1800000,
    "schedule": [{"title": "完成样机试制", "due_date": "2027-06-30"}, {"title": "整车低温测试", "due_date": "2027-10-31"}],
    "achievement_ids": [],
    "attachments": [{"name": "技术方案.pdf", "url": "https://example.org/files/plan.pdf", "size": 524288}],
}


class ProposalCreate(BaseModel):
    """揭榜申请: only the approach, the lead and a schedule with at least one milestone are required."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True, json_schema_extra={"examples": [EXAMPLE]})

    technical_approach: LongText
    lead: Lead
    team: Annotated[list[TeamMember], Field(max_length=100)] = []
    budget: Amount | None = Field(None, description="budget asked, yuan")
    schedule: Schedule
    achievement_ids: Annotated[list[Id], Field(max_length=50), AfterValidator(_unique_ids)] = Field(
        [], description="the applicant's own achievement records this builds on"
    )
    attachments: Annotated[list[Attachment], Field(max_length=50)] = []


# Every field optional (see partial_of); a type checker sees the fields of ProposalCreate.
if TYPE_CHECKING:
    ProposalUpdate = ProposalCreate
else:
    ProposalUpdate = partial_of(ProposalCreate, "ProposalUpdate")


MILESTONE_EXAMPLE: dict[str, Any] = {
    "number": 1,
    "title": "完成百吨级工艺验证",
    "due_date": "2027-06-30",
    "status": "reported",
    "report": "已完成百吨级工艺验证，秸秆糖化率86%，吨乳酸酶制剂成本下降40%，检测报告见附件。",
    "return_reason": "",
    "reported_at": "2027-06-25T07:12:00Z",
    "accepted_at": None,
}


class MilestoneRead(BaseModel):
    model_config = ConfigDict(from_attributes=True, json_schema_extra={"examples": [MILESTONE_EXAMPLE]})

    number: int
    title: str
    due_date: date
    status: str
    report: str
    return_reason: str
    reported_at: datetime | None
    accepted_at: datetime | None


# The awarded 揭榜方案 of demand 12: its 军令状 and the milestones it created.
READ_EXAMPLE: dict[str, Any] = {
    "id": 56,
    "demand_id": 12,
    "org_id": 5,
    "status": "awarded",
    "technical_approach": "采用稀碱-蒸汽爆破联合预处理与复合纤维素酶酶解，配套耐高温菌株同步糖化发酵，降低酶用量与能耗。",
    "lead": {"name": "李教授", "title": "教授、博士生导师", "institution": "吉林大学化学学院"},
    "team": [{"name": "张博士", "title": "副教授", "role": "酶解工艺"}, {"name": "赵工", "title": "高级工程师", "role": "中试放大"}],
    "budget": 2800000,
    "schedule": [{"title": "完成百吨级工艺验证", "due_date": "2027-06-30"}, {"title": "千吨级中试线连续运行", "due_date": "2027-11-30"}],
    "achievement_ids": [34],
    "attachments": [{"name": "技术方案.pdf", "url": "https://example.org/files/plan.pdf", "size": 524288}],
    "decision_reason": "",
    "pledge": {
        "deliverables": "千吨级中试工艺包一套、中试报告",
        "amount": 2800000,
        "milestones": [
            {"title": "完成百吨级工艺验证", "due_date": "2027-06-30"},
            {"title": "千吨级中试线连续运行", "due_date": "2027-11-30"},
        ],
    },
    "created_at": "2026-12-03T02:10:00Z",
    "updated_at": "2027-04-15T06:00:00Z",
    "decided_at": "2027-04-15T06:00:00Z",
    "milestones": [
        {**MILESTONE_EXAMPLE, "status": "pending", "report": "", "reported_at": None},
        {
            "number": 2,
            "title": "千吨级中试线连续运行",
            "due_date": "2027-11-30",
            "status": "pending",
            "report": "",
            "return_reason": "",
            "reported_at": None,
            "accepted_at": None,
        },
    ],
}


class ProposalRead(BaseModel):
    model_config = ConfigDict(from_attributes=True, json_schema_extra={"examples": [READ_EXAMPLE]})

    id: int
    demand_id: Id
    org_id: Id
    status: str
    technical_approach: str
    lead: Lead
    team: list[TeamMember]
    budget: int | None
    schedule: list[dict]
    achievement_ids: list[Id]
    attachments: list[Attachment]
    decision_reason: str
    pledge: dict | None = Field(description="军令状 of the awarded proposal: deliverables, amount, milestones")
    created_at: datetime
    updated_at: datetime
    decided_at: datetime | None
    milestones: list[MilestoneRead]


class Rejection(BaseModel):
    model_config = _STRICT

    reason: Reason = Field(examples=["技术路线与需求不符"])


class Pledge(BaseModel):
    """军令状: what the winner binds itself to. Omitted parts come from the proposal and the demand."""

    model_config = ConfigDict(
        extra="forbid",
        str_strip_whitespace=True,
        json_schema_extra={
            "examples": [
                {
                    "deliverables": "低温热管理系统样机一套、测试报告",
                    "amount": 1800000,
                    "milestones": [{"title": "完成样机试制", "due_date": "2027-06-30"}],
                }
            ]
        },
    )

    deliverables: LongText | None = Field(None, description="default: the demand's deliverables")
    amount: Amount | None = Field(None, description="default: the proposal's budget, else the demand's reward")
    milestones: Annotated[list[MilestoneSpec], Field(min_length=1, max_length=50)] | None = Field(
        None, description="default: the proposal's schedule"
    )


class MilestoneReport(BaseModel):
    model_config = _STRICT

    report: LongText = Field(examples=["样机已完成试制，低温台架测试报告见附件。"])


class MilestoneReturn(BaseModel):
    model_config = _STRICT

    reason: Reason = Field(examples=["测试数据不完整，请补充-20℃工况数据"])


class DemandOutcome(BaseModel):
    """Why a demand failed or was terminated."""

    model_config = _STRICT

    reason: Reason = Field(examples=["揭榜方未能在交付期限内完成样机"])


class DemandCompletion(BaseModel):
    model_config = _STRICT

    reason: str = Field("", max_length=500, description="验收意见, kept in the history")
