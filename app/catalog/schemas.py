"""The body of GET /api/v1/codes: every closed code list, code → Chinese label."""

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from app.catalog.codes import COOPERATION_MODES, FIELDS, MATURITY, ORGANIZATION_KINDS
from app.catalog.regions import NAMES, PROVINCES


def region_names() -> dict[str, str]:
    """Every region as its 6-digit code: the provinces, then the cities and districts."""
    return {**{code + "0000": name for code, name in PROVINCES.items()}, **{c.ljust(6, "0"): n for c, n in NAMES.items()}}


def codes() -> dict[str, Any]:
    return {
        "fields": FIELDS,
        "cooperation_modes": COOPERATION_MODES,
        "maturity": MATURITY,
        "organization_kinds": ORGANIZATION_KINDS,
        "regions": region_names(),
    }


# The real lists, the regions cut to a province, two cities and a few of their districts.
_EXAMPLE_REGIONS = ("220000", "220100", "220102", "220104", "220200", "220202")


class Codes(BaseModel):
    """Inputs accept a code or its label; outputs always carry the code."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [{**codes(), "regions": {code: name for code, name in region_names().items() if code in _EXAMPLE_REGIONS}}]
        }
    )

    fields: dict[str, str] = Field(description="技术领域")
    cooperation_modes: dict[str, str] = Field(description="合作方式 of demands, transfer modes of achievements")
    maturity: dict[str, str] = Field(description="成熟度, from the lab bench to the factory floor")
    organization_kinds: dict[str, str] = Field(description="单位类型")
    regions: dict[str, str] = Field(description="行政区划: 6-digit code → name (every province, and the cities and districts known)")
