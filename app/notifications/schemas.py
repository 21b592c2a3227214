"""Request and response bodies for notifications."""

from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field

from app.schemas import Id, PageQuery


class NotificationRead(BaseModel):
    model_config = ConfigDict(
        from_attributes=True,
        json_schema_extra={
            "examples": [
                {
                    "id": 41,
                    "org_id": 3,
                    "kind": "proposal_submitted",
                    "message": "需求 12「玉米秸秆制备聚乳酸的低成本工艺」收到新的揭榜申请 56",
                    "entity_type": "proposal",
                    "entity_id": 56,
                    "data": None,
                    "created_at": "2026-12-03T02:10:00Z",
                    "read_at": None,
                }
            ]
        },
    )

    id: int
    org_id: Id
    kind: str = Field(examples=["proposal_submitted"])
    message: str = Field(examples=["需求 12「新能源汽车冬季续航衰减问题」收到新的揭榜申请 34"])
    entity_type: str
    entity_id: Id
    data: dict | None = Field(
        None, description="the event's facts, when it has any: a match's pair and relevance, a digest's pairs",
        examples=[{"demand_id": 12, "achievement_id": 34, "relevance": 0.82, "band": "strong"}],
    )
    created_at: datetime
    read_at: datetime | None


class NotificationQuery(PageQuery):
    model_config = ConfigDict(extra="forbid")

    unread: bool | None = Field(None, description="true: only unread; false: only read")
