"""对接清单: the broker's board of demand–achievement pairs by stage, one pair's contact records
(对接记录), its next stage, and the technology contract (技术合同) that signs it.

Pairs are put on the list from a record's matches (pages/listings.py). Everything here goes
through `app.brokerage.service` and `app.contracts.service` with the signed-in person's
`Principal`, the functions the API's /brokerage and /contracts routes call.
"""

import re
from functools import partial
from typing import Any, get_args

from fastapi import APIRouter, Request
from fastapi.responses import Response
from sqlalchemy import select

from app.achievements.models import Achievement
from app.brokerage import service as brokerage
from app.brokerage.schemas import Channel, ContactCreate, ShortlistMove, ShortlistQuery
from app.brokerage.status import SHORTLIST
from app.contracts import service as contracts
from app.contracts.models import CONTRACT_TYPES
from app.contracts.schemas import ContractCreate
from app.demands.models import Demand
from app.dependencies import SessionDep
from app.schemas import Id
from app.web.auth import WebUser, WebUserDep
from app.web.csrf import FormDep
from app.web.forms import answer_form, nest, placed, validate
from app.web.templating import NAV, NavItem, render

router = APIRouter()
NAV.append(NavItem("对接清单", "/web/brokerage", roles=("broker", "admin")))

STAGE_LABELS = {"suggested": "推荐", "contacted": "已联系", "negotiating": "洽谈中", "contract_signed": "已签约", "dropped": "已放弃"}
assert set(STAGE_LABELS) == set(SHORTLIST.states)
CHANNEL_LABELS = {"phone": "电话", "visit": "走访", "meeting": "会议", "email": "邮件", "online": "线上", "other": "其他"}
assert set(CHANNEL_LABELS) == set(get_args(Channel))
# The fields each of the page's forms shows (app/web/forms.placed).
FORM_FIELDS = {
    "move": ("reason",), "contact": ("contact_date", "channel", "parties", "notes"),
    "contract": ("contract_type", "amount", "signed_on", "registration_number", "title", "note"),
}
# Parties are typed one per line (or separated by Chinese or Latin semicolons).
_PARTY_SEPARATORS = re.compile(r"[\n;；]+")


def _titles(session, model, ids: set[int]) -> dict[int, str]:
    if not ids:
        return {}
    return dict(session.execute(select(model.id, model.title).where(model.id.in_(ids))).all())


@router.get("/brokerage", name="broker_board")
def board(request: Request, web_user: WebUserDep, session: SessionDep) -> Response:
    """Every pair the person may see (a broker: its organization's), in one column per stage."""
    entries = brokerage.get_all(session, query=ShortlistQuery(), actor=web_user.principal)
    columns: dict[str, list] = {stage: [] for stage in SHORTLIST.states}
    for entry in entries:
        columns[entry.status].append(entry)
    context = {
        "columns": columns, "stage_labels": STAGE_LABELS, "total": len(entries),
        "demands": _titles(session, Demand, {entry.demand_id for entry in entries}),
        "achievements": _titles(session, Achievement, {entry.achievement_id for entry in entries}),
    }
    return render(request, "broker_board.html", context)


def _entry_page(request: Request, entry_id: int, web_user: WebUser, session, *, errors: dict | None = None,
                values: dict | None = None, target: str = "", notice: str = "", status_code: int = 200) -> Response:
    """One pair; `target` names the form ("move", "contact", "contract") the `errors` and `values` belong to."""
    principal = web_user.principal
    entry = brokerage.get_visible_or_raise(session, entry_id=entry_id, actor=principal)
    may_work = brokerage.can_work_on(entry, principal)
    context = {
        "entry": entry, "demand": session.get(Demand, entry.demand_id), "achievement": session.get(Achievement, entry.achievement_id),
        "stage_labels": STAGE_LABELS, "channel_labels": CHANNEL_LABELS, "contract_types": CONTRACT_TYPES,
        "moves": [stage for stage in SHORTLIST.allowed(entry.status) if stage != "contract_signed"] if may_work else [],
        "can_sign": may_work and "contract_signed" in SHORTLIST.allowed(entry.status), "may_work": may_work,
        "contracts": contracts.get_all(session, actor=principal, shortlist_entry_id=entry.id),
        "errors": placed(errors or {}, FORM_FIELDS[target]) if target else {}, "values": values or {}, "target": target, "notice": notice,
    }
    return render(request, "broker_entry.html", context, status_code=status_code)


@router.get("/brokerage/{entry_id}", name="broker_entry")
def entry_page(entry_id: Id, request: Request, web_user: WebUserDep, session: SessionDep) -> Response:
    return _entry_page(request, entry_id, web_user, session, notice=request.query_params.get("notice", ""))


def _after(request: Request, web_user: WebUser, session, entry_id: int, target: str, values: dict[str, Any], action) -> Response:
    """Runs `action(entry)` on the locked entry; back to the entry page, with the messages if it was refused."""
    brokerage.get_visible_or_raise(session, entry_id=entry_id, actor=web_user.principal)  # 404 before anything else

    def run():
        return action(brokerage.get_visible_or_raise(session, entry_id=entry_id, actor=web_user.principal, lock=True))

    return answer_form(session, run, page=partial(_entry_page, request, entry_id, web_user, session), target=target, values=values,
                       done=f"/web/brokerage/{entry_id}?notice={target}")


@router.post("/brokerage/{entry_id}/status", name="move_entry")
def move(entry_id: Id, request: Request, web_user: WebUserDep, form: FormDep, session: SessionDep) -> Response:
    """The pair's next stage: 已联系, 洽谈中, or 已放弃 with a reason."""
    values = nest(form)

    def action(entry):
        body = validate(ShortlistMove, values)
        return brokerage.move(session, entry=entry, target=body.status, reason=body.reason, actor=web_user.principal)

    return _after(request, web_user, session, entry_id, "move", values, action)


@router.post("/brokerage/{entry_id}/contacts", name="add_contact")
def add_contact(entry_id: Id, request: Request, web_user: WebUserDep, form: FormDep, session: SessionDep) -> Response:
    """Appends a 对接记录."""
    values = nest(form)
    if isinstance(values.get("parties"), str):
        values["parties"] = [party.strip() for party in _PARTY_SEPARATORS.split(values["parties"]) if party.strip()]

    def action(entry):
        return brokerage.add_contact(session, entry=entry, data=validate(ContactCreate, values), actor=web_user.principal)

    shown = {**values, "parties": "\n".join(values.get("parties") or [])}
    return _after(request, web_user, session, entry_id, "contact", shown, action)


@router.post("/brokerage/{entry_id}/contract", name="record_contract")
def record_contract(entry_id: Id, request: Request, web_user: WebUserDep, form: FormDep, session: SessionDep) -> Response:
    """Records the signed 技术合同, which moves the pair to 已签约 (the contract service does both)."""
    values = {**nest(form), "shortlist_entry_id": entry_id}

    def action(entry):
        return contracts.record(session, data=validate(ContractCreate, values), actor=web_user.principal)

    return _after(request, web_user, session, entry_id, "contract", values, action)
