"""Route for the code lists, so clients can build their forms from the server's truth."""

from fastapi import APIRouter

from app.catalog.schemas import Codes, codes

router = APIRouter(tags=["codes"])


@router.get("/codes", response_model=Codes, summary="Code lists: fields, cooperation modes, maturity, organization kinds, regions")
def get_codes() -> dict:
    return codes()
