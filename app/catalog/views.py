"""Route for the code lists, so clients can build their forms from the server's truth."""

from fastapi import APIRouter

from app.catalog.codes import COOPERATION_MODES, FIELDS, MATURITY, ORGANIZATION_KINDS
from app.catalog.regions import NAMES, PROVINCES

router = APIRouter(tags=["codes"])


@router.get("/codes", summary="Code lists: fields, cooperation modes, maturity, organization kinds, regions")
def get_codes() -> dict:
    return {
        "fields": FIELDS,
        "cooperation_modes": COOPERATION_MODES,
        "maturity": MATURITY,
        "organization_kinds": ORGANIZATION_KINDS,
        "regions": {**{code + "0000": name for code, name in PROVINCES.items()}, **{c.ljust(6, "0"): n for c, n in NAMES.items()}},
    }
