"""Request and response bodies for API keys."""

from datetime import datetime
from typing import TYPE_CHECKING, Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from app.auth import ROLES
from app.schemas import Id

# Built from the one list at run time; a type checker sees the plain string it validates to.
if TYPE_CHECKING:
    Role = str
else:
    Role = Literal[ROLES]


class KeyCreate(BaseModel):
    model_config = ConfigDict(
        extra="forbid", json_schema_extra={"examples": [{"role": "owner", "label": "科技处发布系统"}]}
    )

    role: Role
    label: str = Field("", max_length=100)


KEY_EXAMPLE: dict[str, Any] = {
    "id": 7,
    "org_id": 5,
    "role": "owner",
    "label": "科技处发布系统",
    "prefix": "tm_Qx7bR2w",
    "created_at": "2026-11-20T02:30:00Z",
    "revoked_at": None,
}


class KeyRead(BaseModel):
    model_config = ConfigDict(from_attributes=True, json_schema_extra={"examples": [KEY_EXAMPLE]})

    id: int
    org_id: Id
    role: str
    label: str
    prefix: str
    created_at: datetime
    revoked_at: datetime | None


class KeyCreated(KeyRead):
    """The only response that ever carries the key itself."""

    model_config = ConfigDict(
        json_schema_extra={"examples": [{**KEY_EXAMPLE, "key": "tm_Qx7bR2wLk9sVd3FhY6pNc1TmZ8aGe4JuW0oXr5iBq2E"}]}
    )

    key: str = Field(description="send as `Authorization: Bearer <key>`; shown once")


class Me(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [{"key_id": 7, "org_id": 5, "role": "owner"}]})

    key_id: Id
    org_id: Id
    role: str
