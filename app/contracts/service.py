"""Recording and reading technology contracts.

Who may record: the broker organization that owns the shortlist entry, the demand owner for an
awarded proposal, and admins (admins alone may record a contract linked only to a demand or an
achievement). Recording a contract on an entry moves the entry to `contract_signed` in the
same transaction.
"""

from sqlalchemy import or_, select, true
from sqlalchemy.orm import Session

from app.achievements.models import Achievement
from app.auth import Principal
from app.brokerage import service as brokerage
from app.brokerage.status import SHORTLIST
from app.contracts.models import Contract
from app.contracts.schemas import ContractCreate
from app.demands.models import Demand
from app.errors import Conflict, Forbidden, InvalidInput, NotFound
from app.history import service as history
from app.proposals import service as proposals
from app.proposals.models import Proposal

# Roles that read every contract: the province's statistics are built from them. Brokers read
# every contract when they work province-wide, else those touching the organizations they act for.
READ_ALL = ("admin", "reader")


def _fill_link(values: dict, name: str, value: int, source: str) -> None:
    if values[name] is not None and values[name] != value:
        raise InvalidInput(f"{name} {values[name]} contradicts the {source}, which names {value}", ["body", name])
    values[name] = value


def _check_exists(session: Session, values: dict) -> None:
    for name, model in (("demand_id", Demand), ("achievement_id", Achievement)):
        if values[name] is not None and session.get(model, values[name]) is None:
            raise NotFound(f"{model.entity_type} {values[name]} does not exist", ["body", name])


def record(session: Session, *, data: ContractCreate, actor: Principal) -> Contract:
    """Record a signed contract, resolve its links, and sign the shortlist entry it closes.

    Checks who is acting (403) before the states of the entry and the proposal (409).
    """
    values = data.model_dump()
    entry = proposal = None
    entitled = actor.is_admin
    if data.shortlist_entry_id is not None:
        entry = brokerage.get_visible_or_raise(session, entry_id=data.shortlist_entry_id, actor=actor, lock=True)
        entitled = entitled or brokerage.can_work_on(entry, actor)
    if data.proposal_id is not None:
        proposal, demand = proposals.get_visible_or_raise(session, proposal_id=data.proposal_id, actor=actor, lock=True)
        entitled = entitled or actor.can_manage(demand.owner_org_id)
    if not entitled:
        raise Forbidden("contracts are recorded by the shortlist entry's broker, the demand owner of an awarded proposal, or an admin")
    if entry is not None:
        SHORTLIST.check(entry.status, "contract_signed", ["body", "shortlist_entry_id"])
        _fill_link(values, "demand_id", entry.demand_id, f"shortlist entry {entry.id}")
        _fill_link(values, "achievement_id", entry.achievement_id, f"shortlist entry {entry.id}")
    if proposal is not None:
        if proposal.status != "awarded":
            raise Conflict(
                f"proposal {proposal.id} is {proposal.status!r}; only an awarded proposal has a contract", ["body", "proposal_id"]
            )
        existing = session.scalar(select(Contract.id).where(Contract.proposal_id == proposal.id))
        if existing is not None:
            raise Conflict(f"proposal {proposal.id} already has contract {existing}", ["body", "proposal_id"])
        _fill_link(values, "demand_id", proposal.demand_id, f"proposal {proposal.id}")
    _check_exists(session, values)
    if data.registration_number is not None:
        holder = session.scalar(select(Contract.id).where(Contract.registration_number == data.registration_number))
        if holder is not None:
            raise Conflict(
                f"registration number {data.registration_number} is already on contract {holder}", ["body", "registration_number"]
            )
    contract = Contract(**values, recorded_by_org_id=actor.org_id)
    session.add(contract)
    session.flush()
    history.record(
        session, entity_type=contract.entity_type, entity_id=contract.id, action="create", changes=data.model_dump(mode="json"), actor=actor
    )
    if entry is not None:
        brokerage.move(
            session, entry=entry, target="contract_signed", reason=f"contract {contract.id} recorded", actor=actor, contract_id=contract.id
        )
    return contract


def _visible(actor: Principal):
    """SQL condition: who sees which contract (see READ_ALL); owners see those touching their records."""
    if actor.role in READ_ALL or actor.broker_orgs is None:
        return true()
    orgs = {actor.org_id, *actor.broker_orgs}
    return or_(
        Contract.recorded_by_org_id == actor.org_id,
        Contract.demand_id.in_(select(Demand.id).where(Demand.owner_org_id.in_(orgs))),
        Contract.achievement_id.in_(select(Achievement.id).where(Achievement.owner_org_id.in_(orgs))),
        Contract.proposal_id.in_(select(Proposal.id).where(Proposal.org_id.in_(orgs))),
    )


def get_visible_or_raise(session: Session, *, contract_id: int, actor: Principal) -> Contract:
    contract = session.scalar(select(Contract).where(Contract.id == contract_id, _visible(actor)))
    if contract is None:
        raise NotFound(f"contract {contract_id} does not exist", ["path", "contract_id"])
    return contract


def get_all(session: Session, *, actor: Principal, shortlist_entry_id: int | None = None) -> list[Contract]:
    """The contracts the caller may see, newest first; with `shortlist_entry_id`, only those that signed that pair."""
    statement = select(Contract).where(_visible(actor))
    if shortlist_entry_id is not None:
        statement = statement.where(Contract.shortlist_entry_id == shortlist_entry_id)
    return list(session.scalars(statement.order_by(Contract.id.desc())))
