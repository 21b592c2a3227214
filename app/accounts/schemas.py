"""Request and response bodies for API keys."""

from datetime import datetime
from typing import TYPE_CHECKING, Literal

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


class KeyRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    org_id: Id
    role: str
    label: str
    prefix: str
    created_at: datetime
    revoked_at: datetime | None


class KeyCreated(KeyRead):
    """The only response that ever carries the key itself."""

    key: str = Field(description="send as `Authorization: Bearer <key>`; shown once")


class Me(BaseModel):
    key_id: Id
    org_id: Id
    role: str
