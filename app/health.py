"""The body of GET /api/v1/health: what a monitor or a deployment script checks."""

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field


class EncoderInfo(BaseModel):
    name: str = Field(description="the sentence encoder the matching index was built with")
    dim: int = Field(description="its embedding dimensions")


class RolloutState(BaseModel):
    serving: str = Field(description="the previous encoder, serving meanwhile (the same as `encoder.name`)")
    successor: str = Field(description="the configured encoder, whose vectors the encoding processes are storing")
    lacking: int | None = Field(description="published records without an up-to-date vector of the successor, as this "
                                            "process last counted them (an encoding process counts once it has stored "
                                            "all it found; null before, and always in serve replicas, which switch when "
                                            "an encoding process has)")


class IndexState(BaseModel):
    indexed: int = Field(description="records in the matching index")
    pending: int = Field(description="committed changes not yet applied to it")


class Health(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "status": "ok",
                    "ready": True,
                    "behind": 2,
                    "applied_seq": 48213,
                    "encoded_here": 0,
                    "role": "serve",
                    "database": "postgresql",
                    "encoder": {"name": "m3e-small", "dim": 512},
                    "rollout": {"serving": "m3e-small", "successor": "m3e-small/onnx-int8", "lacking": 1532},
                    "index": {"demands": {"indexed": 1284, "pending": 0}, "achievements": {"indexed": 3517, "pending": 2}},
                }
            ]
        }
    )

    status: Literal["ok"]
    ready: bool = Field(description="false (and status code 503) while the index is READY_BEHIND changes or more behind")
    behind: int = Field(description="committed changes not yet applied to this process's index")
    applied_seq: int = Field(description="the change-log position this process's index has applied")
    encoded_here: int = Field(description="documents encoded by this process since it started (0 on a replica that loads stored vectors)")
    role: Literal["all", "serve", "worker"] = Field(description="what this process does (TECHMATCH_ROLE)")
    database: str = Field(description="postgresql or sqlite")
    encoder: EncoderInfo
    rollout: RolloutState | None = Field(None, description="while the configured encoder's vectors are made and another "
                                                            "encoder serves (see docs/architecture.md, Changing the encoder)")
    index: dict[str, IndexState] = Field(description="per side: demands, achievements")
