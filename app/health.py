"""The body of GET /api/v1/health: what a monitor or a deployment script checks."""

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field


class EncoderInfo(BaseModel):
    name: str = Field(description="the sentence encoder the matching index was built with")
    dim: int = Field(description="its embedding dimensions")


class IndexState(BaseModel):
    indexed: int = Field(description="records in the matching index")
    pending: int = Field(description="committed changes not yet applied to it")


class Health(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "status": "ok",
                    "database": "postgresql",
                    "encoder": {"name": "m3e-small", "dim": 512},
                    "index": {"demands": {"indexed": 1284, "pending": 0}, "achievements": {"indexed": 3517, "pending": 2}},
                }
            ]
        }
    )

    status: Literal["ok"]
    database: str = Field(description="postgresql or sqlite")
    encoder: EncoderInfo
    index: dict[str, IndexState] = Field(description="per side: demands, achievements")
