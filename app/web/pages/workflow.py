"""揭榜管理: one demand's proposals, their review and award (军令状), the winner's milestones and the outcome.

The demand's owner (and admins, and brokers acting for it) sees every proposal and decides; an
applicant sees its own proposal and, once awarded, reports its milestones here. What each
person sees and may do is what `app.proposals.service` allows their `Principal`, the same
functions the API's /proposals routes call.
"""

from functools import partial
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response
from sqlalchemy import select

from app.dependencies import SessionDep
from app.errors import NotFound
from app.organizations.models import Organization
from app.proposals import service as proposals
from app.proposals.schemas import DemandCompletion, DemandOutcome, MilestoneReport, MilestoneReturn, Pledge, Rejection
from app.proposals.status import MILESTONE, OPEN, PROPOSAL
from app.schemas import Id
from app.web.auth import WebUser, WebUserDep
from app.web.csrf import FormDep
from app.web.forms import answer_form, nest, placed, validate
from app.web.templating import render

router = APIRouter()

PROPOSAL_LABELS = {
    "submitted": "已提交", "shortlisted": "已入围", "awarded": "已中选", "rejected": "未通过", "not_selected": "未中选",
    "withdrawn": "已撤回",
}
assert set(PROPOSAL_LABELS) == set(PROPOSAL.states)
MILESTONE_LABELS = {"pending": "待完成", "reported": "待验收", "accepted": "已验收", "returned": "已退回"}
assert set(MILESTONE_LABELS) == set(MILESTONE.states)
# The demand's outcome: verb in the address → (target state, button, whether a reason is required).
OUTCOMES = {
    "complete": ("completed", "验收通过，结项", False), "fail": ("failed", "判定失败", True), "terminate": ("terminated", "终止", True),
}
# The fields each of the page's forms shows (app/web/forms.placed), by the form's name before its ids.
FORM_FIELDS = {
    "shortlist": (), "reject": ("reason",), "award": ("deliverables", "amount", "milestones"), "milestone": ("report", "reason"),
    "outcome": ("reason",),
}
# Extra empty milestone rows offered in the award form after the proposal's own schedule.
SPARE_ROWS = 1


def _page(request: Request, demand_id: int, web_user: WebUser, session, *, errors: dict | None = None, values: dict | None = None,
          target: str = "", notice: str = "", status_code: int = 200) -> Response:
    """The page; `target` names the form ("award-12", "milestone-12-1") the `errors` and `values` belong to."""
    principal = web_user.principal
    demand = proposals.get_demand_or_raise(session, demand_id=demand_id, actor=principal)
    items = proposals.get_for_demand(session, demand=demand, actor=principal)
    org_ids = {item.org_id for item in items}
    names = dict(session.execute(select(Organization.id, Organization.name).where(Organization.id.in_(org_ids))).all()) if org_ids else {}
    reviewer = proposals.can_review(demand, principal)
    context = {
        "demand": demand, "proposals": items, "org_names": names, "reviewer": reviewer,
        "can_decide": reviewer and demand.status == "published", "open_states": OPEN,
        "outcomes": {verb: (label, needs_reason) for verb, (state, label, needs_reason) in OUTCOMES.items()
                     if state in demand.lifecycle.allowed(demand.status)} if principal.can_manage(demand.owner_org_id) else {},
        "proposal_labels": PROPOSAL_LABELS, "milestone_labels": MILESTONE_LABELS, "spare_rows": SPARE_ROWS,
        "errors": placed(errors or {}, FORM_FIELDS[target.split("-")[0]]) if target else {}, "values": values or {}, "target": target,
        "notice": notice,
    }
    return render(request, "proposals.html", context, status_code=status_code)


@router.get("/demands/{demand_id}/proposals", name="demand_proposals")
def proposals_page(demand_id: Id, request: Request, web_user: WebUserDep, session: SessionDep) -> Response:
    return _page(request, demand_id, web_user, session, notice=request.query_params.get("notice", ""))


def _act(request: Request, web_user: WebUser, session, proposal_id: int, target: str, values: dict[str, Any], action) -> Response:
    """Runs `action(proposal, demand)` on the locked proposal; back to the page, with the messages if it was refused."""
    found = proposals.get_visible_or_raise(session, proposal_id=proposal_id, actor=web_user.principal)  # 404 before anything else
    demand_id = found[1].id

    def run():
        proposal, demand = proposals.get_visible_or_raise(session, proposal_id=proposal_id, actor=web_user.principal, lock=True)
        return action(proposal, demand)

    return answer_form(session, run, page=partial(_page, request, demand_id, web_user, session), target=target, values=values,
                       done=f"/web/demands/{demand_id}/proposals?notice={target}#{target}")


@router.post("/proposals/{proposal_id}/shortlist", name="shortlist_proposal")
def shortlist(proposal_id: Id, request: Request, web_user: WebUserDep, form: FormDep, session: SessionDep) -> Response:
    """入围."""
    return _act(request, web_user, session, proposal_id, f"shortlist-{proposal_id}", {}, lambda proposal, demand: proposals.shortlist(
        session, proposal=proposal, demand=demand, actor=web_user.principal,
    ))


@router.post("/proposals/{proposal_id}/reject", name="reject_proposal")
def reject(proposal_id: Id, request: Request, web_user: WebUserDep, form: FormDep, session: SessionDep) -> Response:
    values = nest(form)
    return _act(request, web_user, session, proposal_id, f"reject-{proposal_id}", values, lambda proposal, demand: proposals.reject(
        session, proposal=proposal, demand=demand, reason=validate(Rejection, values).reason, actor=web_user.principal,
    ))


def _pledge_values(form) -> dict[str, Any]:
    """The award form as the API's Pledge: milestone rows left wholly blank are dropped; none at all
    means "the proposal's schedule", as an omitted `milestones` does in the API."""
    values = nest(form)
    rows = [row for row in values.get("milestones", []) if any(row.values())] if isinstance(values.get("milestones"), list) else []
    values.pop("milestones", None)
    if rows:
        values["milestones"] = rows
    return values


@router.post("/proposals/{proposal_id}/award", name="award_proposal")
def award(proposal_id: Id, request: Request, web_user: WebUserDep, form: FormDep, session: SessionDep) -> Response:
    """授榜 (揭榜成功) with its 军令状: deliverables, amount, milestones."""
    values = _pledge_values(form)
    return _act(request, web_user, session, proposal_id, f"award-{proposal_id}", values, lambda proposal, demand: proposals.award(
        session, proposal=proposal, demand=demand, pledge=validate(Pledge, values), actor=web_user.principal,
    ))


@router.post("/proposals/{proposal_id}/milestones/{number}/{verb}", name="move_milestone")
def move_milestone(proposal_id: Id, number: Id, verb: str, request: Request, web_user: WebUserDep, form: FormDep,
                   session: SessionDep) -> Response:
    """The winner reports a milestone (汇报); the demand owner accepts (验收) or returns (退回) it."""
    values = nest(form)
    principal = web_user.principal
    if verb == "report":
        def action(proposal, demand):
            report = validate(MilestoneReport, values).report
            return proposals.report_milestone(session, proposal=proposal, demand=demand, number=number, report=report, actor=principal)
    elif verb == "accept":
        def action(proposal, demand):
            return proposals.accept_milestone(session, proposal=proposal, demand=demand, number=number, actor=principal)
    elif verb == "return":
        def action(proposal, demand):
            reason = validate(MilestoneReturn, values).reason
            return proposals.return_milestone(session, proposal=proposal, demand=demand, number=number, reason=reason, actor=principal)
    else:
        raise NotFound(f"没有这个操作 / no action {verb!r}")
    return _act(request, web_user, session, proposal_id, f"milestone-{proposal_id}-{number}", values, action)


@router.post("/demands/{demand_id}/outcome/{verb}", name="demand_outcome")
def outcome(demand_id: Id, verb: str, request: Request, web_user: WebUserDep, form: FormDep, session: SessionDep) -> Response:
    """结项: the demand is completed (every milestone accepted), failed or terminated."""
    if verb not in OUTCOMES:
        raise NotFound(f"没有这个操作 / no action {verb!r}")
    state, _, needs_reason = OUTCOMES[verb]
    values = nest(form)

    def finish():
        reason = (validate(DemandOutcome, values) if needs_reason else validate(DemandCompletion, values)).reason
        demand = proposals.get_demand_or_raise(session, demand_id=demand_id, actor=web_user.principal, lock=True)
        return proposals.finish_demand(session, demand=demand, target=state, reason=reason, actor=web_user.principal)

    return answer_form(session, finish, page=partial(_page, request, demand_id, web_user, session), target=f"outcome-{verb}",
                       values=values, done=f"/web/demands/{demand_id}/proposals?notice=outcome-{verb}")
