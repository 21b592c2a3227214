"""Routes of the 揭榜 workflow: proposals under /demands/{id}/proposals and /proposals, milestones, and a demand's outcome."""

from datetime import date
from typing import Annotated

from fastapi import APIRouter, Depends
from fastapi.routing import APIRoute

from app.clock import china_today
from app.demands.schemas import DemandRead
from app.dependencies import PrincipalDep, SessionDep
from app.history import service as history
from app.history.schemas import ChangeRead
from app.listings.schemas import StatusChange
from app.proposals import service
from app.proposals.schemas import (
    DemandCompletion,
    DemandOutcome,
    MilestoneRead,
    MilestoneReport,
    MilestoneReturn,
    Pledge,
    ProposalCreate,
    ProposalRead,
    ProposalUpdate,
    Rejection,
)
from app.schemas import Id

router = APIRouter(tags=["proposals"])


def current_date() -> date:
    """Today in China (a dependency tests may override)."""
    return china_today()


TodayDep = Annotated[date, Depends(current_date)]


@router.post("/demands/{demand_id}/proposals", response_model=ProposalRead, status_code=201, summary="揭榜: apply to a published demand")
def submit(demand_id: Id, data: ProposalCreate, session: SessionDep, principal: PrincipalDep, today: TodayDep):
    demand = service.get_demand_or_raise(session, demand_id=demand_id, actor=principal, lock=True)
    return service.submit(session, demand=demand, data=data, actor=principal, today=today)


@router.get(
    "/demands/{demand_id}/proposals",
    response_model=list[ProposalRead],
    summary="A demand's proposals (its owner: all; an applicant: its own)",
)
def list_for_demand(demand_id: Id, session: SessionDep, principal: PrincipalDep):
    demand = service.get_demand_or_raise(session, demand_id=demand_id, actor=principal)
    return service.get_for_demand(session, demand=demand, actor=principal)


@router.get("/proposals", response_model=list[ProposalRead], summary="The caller's organization's own proposals")
def list_own(session: SessionDep, principal: PrincipalDep):
    return service.get_own(session, actor=principal)


@router.get("/proposals/{proposal_id}", response_model=ProposalRead, summary="One proposal")
def get_proposal(proposal_id: Id, session: SessionDep, principal: PrincipalDep):
    return service.get_visible_or_raise(session, proposal_id=proposal_id, actor=principal)[0]


@router.patch("/proposals/{proposal_id}", response_model=ProposalRead, summary="Change a proposal before the application deadline")
def update(proposal_id: Id, data: ProposalUpdate, session: SessionDep, principal: PrincipalDep, today: TodayDep):
    proposal, demand = service.get_visible_or_raise(session, proposal_id=proposal_id, actor=principal, lock=True)
    return service.update(session, proposal=proposal, demand=demand, data=data, actor=principal, today=today)


@router.post(
    "/proposals/{proposal_id}/withdraw",
    response_model=ProposalRead,
    summary="Withdraw a proposal before the application deadline",
)
def withdraw(proposal_id: Id, session: SessionDep, principal: PrincipalDep, today: TodayDep, body: StatusChange | None = None):
    proposal, demand = service.get_visible_or_raise(session, proposal_id=proposal_id, actor=principal, lock=True)
    reason = body.reason if body else ""
    return service.withdraw(session, proposal=proposal, demand=demand, actor=principal, today=today, reason=reason)


@router.post("/proposals/{proposal_id}/shortlist", response_model=ProposalRead, summary="入围: shortlist a proposal")
def shortlist(proposal_id: Id, session: SessionDep, principal: PrincipalDep):
    proposal, demand = service.get_visible_or_raise(session, proposal_id=proposal_id, actor=principal, lock=True)
    return service.shortlist(session, proposal=proposal, demand=demand, actor=principal)


@router.post("/proposals/{proposal_id}/reject", response_model=ProposalRead, summary="Reject a proposal, with a reason")
def reject(proposal_id: Id, body: Rejection, session: SessionDep, principal: PrincipalDep):
    proposal, demand = service.get_visible_or_raise(session, proposal_id=proposal_id, actor=principal, lock=True)
    return service.reject(session, proposal=proposal, demand=demand, reason=body.reason, actor=principal)


@router.post("/proposals/{proposal_id}/award", response_model=ProposalRead, summary="揭榜成功: award a proposal and record its 军令状")
def award(proposal_id: Id, session: SessionDep, principal: PrincipalDep, body: Pledge | None = None):
    proposal, demand = service.get_visible_or_raise(session, proposal_id=proposal_id, actor=principal, lock=True)
    return service.award(session, proposal=proposal, demand=demand, pledge=body or Pledge(), actor=principal)


@router.get("/proposals/{proposal_id}/history", response_model=list[ChangeRead], summary="Every change to a proposal and its milestones")
def get_history(proposal_id: Id, session: SessionDep, principal: PrincipalDep):
    service.get_visible_or_raise(session, proposal_id=proposal_id, actor=principal)
    return history.get_for(session, entity_type="proposal", entity_id=proposal_id)


@router.post("/proposals/{proposal_id}/milestones/{number}/report", response_model=MilestoneRead, summary="The winner reports a milestone")
def report_milestone(proposal_id: Id, number: Id, body: MilestoneReport, session: SessionDep, principal: PrincipalDep):
    proposal, demand = service.get_visible_or_raise(session, proposal_id=proposal_id, actor=principal, lock=True)
    return service.report_milestone(session, proposal=proposal, demand=demand, number=number, report=body.report, actor=principal)


@router.post(
    "/proposals/{proposal_id}/milestones/{number}/accept",
    response_model=MilestoneRead,
    summary="The demand owner accepts a milestone",
)
def accept_milestone(proposal_id: Id, number: Id, session: SessionDep, principal: PrincipalDep):
    proposal, demand = service.get_visible_or_raise(session, proposal_id=proposal_id, actor=principal, lock=True)
    return service.accept_milestone(session, proposal=proposal, demand=demand, number=number, actor=principal)


@router.post(
    "/proposals/{proposal_id}/milestones/{number}/return",
    response_model=MilestoneRead,
    summary="The demand owner returns a milestone, with a reason",
)
def return_milestone(proposal_id: Id, number: Id, body: MilestoneReturn, session: SessionDep, principal: PrincipalDep):
    proposal, demand = service.get_visible_or_raise(session, proposal_id=proposal_id, actor=principal, lock=True)
    return service.return_milestone(session, proposal=proposal, demand=demand, number=number, reason=body.reason, actor=principal)


@router.post("/demands/{demand_id}/complete", response_model=DemandRead, summary="验收通过: complete an in-progress demand")
def complete_demand(demand_id: Id, session: SessionDep, principal: PrincipalDep, body: DemandCompletion | None = None):
    demand = service.get_demand_or_raise(session, demand_id=demand_id, actor=principal, lock=True)
    reason = body.reason if body else ""
    return service.finish_demand(session, demand=demand, target="completed", reason=reason, actor=principal)


@router.post("/demands/{demand_id}/fail", response_model=DemandRead, summary="Mark an in-progress demand failed, with a reason")
def fail_demand(demand_id: Id, body: DemandOutcome, session: SessionDep, principal: PrincipalDep):
    demand = service.get_demand_or_raise(session, demand_id=demand_id, actor=principal, lock=True)
    return service.finish_demand(session, demand=demand, target="failed", reason=body.reason, actor=principal)


@router.post("/demands/{demand_id}/terminate", response_model=DemandRead, summary="Terminate an in-progress demand, with a reason")
def terminate_demand(demand_id: Id, body: DemandOutcome, session: SessionDep, principal: PrincipalDep):
    demand = service.get_demand_or_raise(session, demand_id=demand_id, actor=principal, lock=True)
    return service.finish_demand(session, demand=demand, target="terminated", reason=body.reason, actor=principal)


for _route in router.routes:
    if isinstance(_route, APIRoute):
        _route.operation_id = f"workflow_{_route.name}"
