"""Response body for the change history."""

from datetime import datetime

from pydantic import BaseModel, ConfigDict

from app.schemas import Id


class ChangeRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    action: str
    changes: dict
    actor_key_id: Id | None
    actor_org_id: Id | None
    at: datetime
