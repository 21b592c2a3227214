"""Routes for matching: by record in both directions, and by free text.

    GET  /api/v1/demands/{record_id}/matches        achievements for a demand
    GET  /api/v1/achievements/{record_id}/matches   demands for an achievement
    POST /api/v1/match                              free text against either list
"""

from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from sqlalchemy.orm import Session

from app.dependencies import PrincipalDep, ReadOnly, SessionDep
from app.matching import service
from app.matching.keeper import IndexKeeper
from app.matching.schemas import MatchResponse, TextMatchRequest, match_query_model
from app.schemas import Id
from app.sides import OTHER_SIDE

router = APIRouter(tags=["matching"])


def keeper_of(request: Request) -> IndexKeeper:
    keeper: IndexKeeper = request.app.state.index_keeper
    return keeper


def _response(
    session: Session, keeper: IndexKeeper, target: str, source: dict[str, Any] | None, result: service.MatchResult
) -> dict[str, Any]:
    pending = sum(keeper.pending(session).values())
    return {"target": target, "source": source, **result, "pending_changes": pending}


def _add_record_route(side: str) -> None:
    target = OTHER_SIDE[side]
    query_model = match_query_model(service.SIDES[target][1])

    @router.get(
        f"/{side}/{{record_id}}/matches",
        response_model=MatchResponse,
        summary=f"The {target} that best match one of the {side}",
        operation_id=f"match_{side}",
    )
    def match_record(
        record_id: Id,
        request: Request,
        session: SessionDep,
        principal: PrincipalDep,
        # The query model is built per side at run time; FastAPI reads it from this annotation.
        query: Annotated[query_model, Query()],  # type: ignore[valid-type]
    ) -> dict[str, Any]:
        keeper = keeper_of(request)
        result = service.match_record(session, keeper, side=side, record_id=record_id, query=query, actor=principal)
        return _response(session, keeper, target, {"side": side, "id": record_id}, result)


_add_record_route("demands")
_add_record_route("achievements")


@router.post(
    "/match", response_model=MatchResponse, dependencies=[ReadOnly], summary="Match free text against achievements or demands"
)
def match_text(body: TextMatchRequest, request: Request, session: SessionDep, principal: PrincipalDep) -> dict[str, Any]:
    keeper = keeper_of(request)
    filters = service.parse_filters(body.target, body.filters)
    result = service.match_text(
        session, keeper, text=body.text, target=body.target, filters=filters, k=body.k,
        prefer_region=body.prefer_region, include_weak=body.include_weak,
    )
    return _response(session, keeper, body.target, None, result)
