"""Response body for the change history."""

from datetime import datetime

from pydantic import BaseModel, ConfigDict


class ChangeRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    action: str
    changes: dict
    actor_key_id: int | None
    actor_org_id: int | None
    at: datetime
