"""Routes for interests: /achievements/{id}/interests and /interests."""

from fastapi import APIRouter
from fastapi.routing import APIRoute

from app.dependencies import PrincipalDep, SessionDep
from app.history import service as history
from app.history.schemas import ChangeRead
from app.interests import service
from app.interests.schemas import InterestCreate, InterestRead, InterestReply
from app.listings.schemas import StatusChange
from app.schemas import Id

router = APIRouter(tags=["interests"])


@router.post(
    "/achievements/{achievement_id}/interests",
    response_model=InterestRead,
    status_code=201,
    summary="Register interest (意向) in a published achievement",
)
def register(achievement_id: Id, data: InterestCreate, session: SessionDep, principal: PrincipalDep):
    achievement = service.get_achievement_or_raise(session, achievement_id=achievement_id, actor=principal)
    return service.register(session, achievement=achievement, data=data, actor=principal)


@router.get(
    "/achievements/{achievement_id}/interests",
    response_model=list[InterestRead],
    summary="Interests in an achievement (its owner: all; others: their own)",
)
def list_for_achievement(achievement_id: Id, session: SessionDep, principal: PrincipalDep):
    achievement = service.get_achievement_or_raise(session, achievement_id=achievement_id, actor=principal)
    return service.get_for_achievement(session, achievement=achievement, actor=principal)


@router.get("/interests", response_model=list[InterestRead], summary="The interests the caller's organization registered")
def list_own(session: SessionDep, principal: PrincipalDep):
    return service.get_own(session, actor=principal)


@router.get("/interests/{interest_id}", response_model=InterestRead, summary="One interest")
def get_interest(interest_id: Id, session: SessionDep, principal: PrincipalDep):
    return service.get_visible_or_raise(session, interest_id=interest_id, actor=principal)[0]


def _answer_route(target: str, verb: str):
    @router.post(
        f"/interests/{{interest_id}}/{verb}",
        response_model=InterestRead,
        name=f"{verb}_interest",
        summary=f"{verb.capitalize()} an interest (the achievement's owner)",
    )
    def answer(interest_id: Id, session: SessionDep, principal: PrincipalDep, body: InterestReply | None = None):
        interest, achievement = service.get_visible_or_raise(session, interest_id=interest_id, actor=principal, lock=True)
        reply = body.reply if body else ""
        return service.answer(session, interest=interest, achievement=achievement, target=target, reply=reply, actor=principal)


_answer_route("accepted", "accept")
_answer_route("declined", "decline")


@router.post(
    "/interests/{interest_id}/withdraw",
    response_model=InterestRead,
    summary="Withdraw a pending interest (the interested organization)",
)
def withdraw(interest_id: Id, session: SessionDep, principal: PrincipalDep, body: StatusChange | None = None):
    interest, _ = service.get_visible_or_raise(session, interest_id=interest_id, actor=principal, lock=True)
    return service.withdraw(session, interest=interest, actor=principal, reason=body.reason if body else "")


@router.get("/interests/{interest_id}/history", response_model=list[ChangeRead], summary="Every change to an interest")
def get_history(interest_id: Id, session: SessionDep, principal: PrincipalDep):
    service.get_visible_or_raise(session, interest_id=interest_id, actor=principal)
    return history.get_for(session, entity_type="interest", entity_id=interest_id)


for _route in router.routes:
    if isinstance(_route, APIRoute):
        _route.operation_id = f"interests_{_route.name}"
