"""Routes of the broker's workspace: /brokerage/assignments, /brokerage/shortlist and /brokerage/feedback."""

from typing import Annotated

from fastapi import APIRouter, Query, Response
from fastapi.routing import APIRoute

from app.brokerage import assignments, service
from app.brokerage.schemas import (
    AssignmentCreate,
    AssignmentQuery,
    AssignmentRead,
    ContactCreate,
    ContactRead,
    FeedbackCreate,
    FeedbackQuery,
    FeedbackRead,
    ShortlistCreate,
    ShortlistMove,
    ShortlistQuery,
    ShortlistRead,
)
from app.dependencies import PrincipalDep, SessionDep
from app.history import service as history
from app.history.schemas import ChangeRead
from app.schemas import Id

router = APIRouter(prefix="/brokerage", tags=["brokerage"])


@router.post("/assignments", response_model=AssignmentRead, status_code=201,
             summary="Assign a broker organization to act for an organization (admin)")
def assign(data: AssignmentCreate, session: SessionDep, principal: PrincipalDep):
    return assignments.assign(session, data=data, actor=principal)


@router.get("/assignments", response_model=list[AssignmentRead],
            summary="Broker assignments (admins: all; others: where they are broker or client)")
def list_assignments(query: Annotated[AssignmentQuery, Query()], session: SessionDep, principal: PrincipalDep):
    return assignments.get_all(session, query=query, actor=principal)


@router.delete("/assignments/{assignment_id}", status_code=204, summary="End a broker assignment (admin)")
def unassign(assignment_id: Id, session: SessionDep, principal: PrincipalDep):
    assignments.unassign(session, assignment_id=assignment_id, actor=principal)
    return Response(status_code=204)


@router.post("/shortlist", response_model=ShortlistRead, status_code=201, summary="Put a demand–achievement pair on the 对接清单 (brokers)")
def create_entry(data: ShortlistCreate, session: SessionDep, principal: PrincipalDep):
    return service.create(session, data=data, actor=principal)


@router.get("/shortlist", response_model=list[ShortlistRead],
            summary="Shortlist entries (brokers: their organization's; owners: on their records)")
def list_entries(query: Annotated[ShortlistQuery, Query()], session: SessionDep, principal: PrincipalDep):
    return service.get_all(session, query=query, actor=principal)


@router.get("/shortlist/{entry_id}", response_model=ShortlistRead, summary="One shortlist entry with its contact records")
def get_entry(entry_id: Id, session: SessionDep, principal: PrincipalDep):
    return service.get_visible_or_raise(session, entry_id=entry_id, actor=principal)


@router.post("/shortlist/{entry_id}/status", response_model=ShortlistRead,
             summary="Move a pair: contacted, negotiating, or dropped with a reason")
def move_entry(entry_id: Id, body: ShortlistMove, session: SessionDep, principal: PrincipalDep):
    entry = service.get_visible_or_raise(session, entry_id=entry_id, actor=principal, lock=True)
    return service.move(session, entry=entry, target=body.status, reason=body.reason, actor=principal)


@router.post("/shortlist/{entry_id}/contacts", response_model=ContactRead, status_code=201, summary="Append a contact record (对接记录)")
def add_contact(entry_id: Id, data: ContactCreate, session: SessionDep, principal: PrincipalDep):
    entry = service.get_visible_or_raise(session, entry_id=entry_id, actor=principal, lock=True)
    return service.add_contact(session, entry=entry, data=data, actor=principal)


@router.get("/shortlist/{entry_id}/history", response_model=list[ChangeRead], summary="Every change to a shortlist entry")
def get_entry_history(entry_id: Id, session: SessionDep, principal: PrincipalDep):
    entry = service.get_visible_or_raise(session, entry_id=entry_id, actor=principal)
    return history.get_for(session, entity_type=entry.entity_type, entity_id=entry.id)


@router.post("/feedback", response_model=FeedbackRead, status_code=201, summary="Say whether a suggested match was useful (brokers)")
def add_feedback(data: FeedbackCreate, session: SessionDep, principal: PrincipalDep):
    return service.add_feedback(session, data=data, actor=principal)


@router.get("/feedback", response_model=list[FeedbackRead], summary="Match feedback, filtered by verdict, demand or achievement (brokers)")
def list_feedback(query: Annotated[FeedbackQuery, Query()], session: SessionDep, principal: PrincipalDep):
    return service.get_feedback(session, query=query, actor=principal)


for _route in router.routes:
    if isinstance(_route, APIRoute):
        _route.operation_id = f"brokerage_{_route.name}"
