"""Request and response bodies for an organization's webhook."""

from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field

from app.schemas import Id


class WebhookSettings(BaseModel):
    """Where to POST the organization's notifications and the secret that signs them.

    Each POST carries `X-Techmatch-Signature: sha256=<hex HMAC-SHA256 of the raw body with the secret>`.
    """

    model_config = ConfigDict(
        extra="forbid",
        str_strip_whitespace=True,
        json_schema_extra={"examples": [{"url": "https://erp.example.com/techmatch/hook", "secret": "换成至少16位的随机字符串"}]},
    )

    url: str = Field(min_length=1, max_length=1000, description="http(s); private, loopback and link-local hosts are refused")
    secret: str = Field(min_length=16, max_length=200)
    allow_private: bool = Field(False, description="admins only: allow a private or loopback host (an intranet receiver)")


class WebhookRead(BaseModel):
    """The webhook without its secret, which is never shown again."""

    model_config = ConfigDict(
        from_attributes=True,
        json_schema_extra={
            "examples": [
                {
                    "org_id": 3,
                    "url": "https://erp.example.com/techmatch/hook",
                    "allow_private": False,
                    "created_at": "2026-11-02T03:00:00Z",
                    "updated_at": "2026-11-02T03:00:00Z",
                }
            ]
        },
    )

    org_id: Id
    url: str
    allow_private: bool
    created_at: datetime
    updated_at: datetime
