"""Response body for the change history."""

from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field

from app.schemas import Id


class ChangeRead(BaseModel):
    model_config = ConfigDict(
        from_attributes=True,
        json_schema_extra={
            "examples": [
                {
                    "id": 88,
                    "action": "status",
                    "changes": {"status": {"old": "published", "new": "closed"}, "reason": "需求已由合作单位解决，关闭榜单"},
                    "actor_key_id": 9,
                    "actor_user_id": None,
                    "actor_org_id": 3,
                    "at": "2026-11-20T02:30:00Z",
                }
            ]
        },
    )

    id: int
    action: str
    changes: dict
    actor_key_id: Id | None
    actor_user_id: Id | None = Field(None, description="the person, when the change was made in the web pages")
    actor_org_id: Id | None
    at: datetime
