"""Request and response bodies for interests."""

from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field

from app.listings.schemas import LongText, ModeCode
from app.schemas import Id


class InterestCreate(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        str_strip_whitespace=True,
        json_schema_extra={"examples": [{"message": "我公司希望获得该技术的独占许可，用于冬季电动车型。", "mode": "licensing"}]},
    )

    message: LongText
    mode: ModeCode = Field(description="the cooperation mode wanted: a code or its label (技术许可)")


class InterestReply(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    reply: str = Field("", max_length=500, examples=["欢迎来校洽谈，请联系李教授。"])


class InterestRead(BaseModel):
    model_config = ConfigDict(
        from_attributes=True,
        json_schema_extra={
            "examples": [
                {
                    "id": 21,
                    "achievement_id": 34,
                    "org_id": 3,
                    "mode": "licensing",
                    "message": "我公司希望获得该技术的独占许可，用于秸秆制聚乳酸生产线。",
                    "status": "accepted",
                    "reply": "欢迎来校洽谈，请联系成果转化办公室王老师。",
                    "created_at": "2026-11-12T01:30:00Z",
                    "decided_at": "2026-11-14T08:05:00Z",
                }
            ]
        },
    )

    id: int
    achievement_id: Id
    org_id: Id
    mode: str
    message: str
    status: str
    reply: str
    created_at: datetime
    decided_at: datetime | None
