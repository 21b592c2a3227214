"""Request and response bodies for dispatch settings and saved searches."""

from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field

from app.schemas import Id, email_address
from app.sides import SideName

Frequency = Literal["immediately", "daily", "weekly"]
Email = Annotated[str, Field(min_length=3, max_length=200), AfterValidator(email_address)]


class DispatchSettings(BaseModel):
    """Which dispatch notifications the organization receives (all on unless turned off)."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [{"new_match": True, "match_digest": True, "saved_search": False, "digest_emails": ["keji@example.com"]}]
        },
    )

    new_match: bool = Field(True, description="a newly published record matches one of ours strongly (新匹配通知)")
    match_digest: bool = Field(True, description="the daily digest of matches from bulk imports and beyond the daily cap")
    saved_search: bool = Field(True, description="new results of the organization's saved searches")
    digest_emails: list[Email] = Field(
        default_factory=list, max_length=10,
        description="where the daily digest is e-mailed when the service has an SMTP server; empty: the organization's contact e-mail",
    )


class SavedSearchCreate(BaseModel):
    """订阅检索: free text and the target list's filters, run on a schedule; each run sends only what is new."""

    model_config = ConfigDict(
        extra="forbid",
        str_strip_whitespace=True,
        json_schema_extra={
            "examples": [
                {
                    "name": "电池低温技术",
                    "target": "achievements",
                    "text": "动力电池低温热管理 冬季续航",
                    "filters": {"field": ["new_energy"]},
                    "frequency": "daily",
                }
            ]
        },
    )

    name: str = Field(min_length=1, max_length=200)
    target: SideName = Field(description="the list searched: demands or achievements")
    text: str = Field(min_length=1, max_length=2000)
    filters: dict[str, Any] = Field(default_factory=dict, description="the target list's filters, as in POST /match")
    frequency: Frequency = "daily"
    min_band: Literal["strong", "possible"] = Field("possible", description="the weakest band a result may have to be sent")


class SavedSearchRead(BaseModel):
    model_config = ConfigDict(
        from_attributes=True,
        json_schema_extra={
            "examples": [
                {
                    "id": 7,
                    "org_id": 3,
                    "name": "电池低温技术",
                    "target": "achievements",
                    "text": "动力电池低温热管理 冬季续航",
                    "filters": {"field": ["new_energy"]},
                    "frequency": "daily",
                    "min_band": "possible",
                    "next_run_at": "2026-11-27T00:00:00Z",
                    "last_run_at": "2026-11-26T00:00:02Z",
                    "created_at": "2026-11-20T08:15:00Z",
                }
            ]
        },
    )

    id: Id
    org_id: Id
    name: str
    target: str
    text: str
    filters: dict[str, Any]
    frequency: str
    min_band: str
    next_run_at: datetime
    last_run_at: datetime | None
    created_at: datetime
