"""Broker assignments (委托): which organizations an agency's brokers act for.

Only admins assign and unassign, and each change is kept in the history. An assignment takes
effect from the broker's next request, since a key's scope is read when it authenticates.
"""

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from app.auth import Principal
from app.brokerage.models import BrokerAssignment
from app.brokerage.schemas import AssignmentCreate, AssignmentQuery
from app.errors import Conflict, InvalidInput, NotFound
from app.history import service as history
from app.organizations.models import Organization

ENTITY = "broker_assignment"


def assigned_orgs(session: Session, *, broker_org_id: int) -> frozenset[int] | None:
    """The organizations `broker_org_id`'s brokers act for; None when it brokers for the whole province."""
    if session.scalar(select(Organization.broker_scope).where(Organization.id == broker_org_id)) == "province":
        return None
    return frozenset(session.scalars(select(BrokerAssignment.org_id).where(BrokerAssignment.broker_org_id == broker_org_id)))


def assign(session: Session, *, data: AssignmentCreate, actor: Principal) -> BrokerAssignment:
    actor.require_role("admin", action="assign brokers")
    for name in ("broker_org_id", "org_id"):
        if session.get(Organization, getattr(data, name)) is None:
            raise NotFound(f"organization {getattr(data, name)} does not exist", ["body", name])
    if data.broker_org_id == data.org_id:
        raise InvalidInput("a broker organization cannot be assigned to itself", ["body", "org_id"])
    existing = session.scalar(
        select(BrokerAssignment.id).where(BrokerAssignment.broker_org_id == data.broker_org_id, BrokerAssignment.org_id == data.org_id)
    )
    if existing is not None:
        raise Conflict(
            f"organization {data.org_id} is already assigned to broker organization {data.broker_org_id} (assignment {existing})",
            ["body", "org_id"],
        )
    assignment = BrokerAssignment(**data.model_dump(), created_by_key_id=actor.key_id)
    session.add(assignment)
    session.flush()
    history.record(session, entity_type=ENTITY, entity_id=assignment.id, action="create", changes=data.model_dump(), actor=actor)
    return assignment


def unassign(session: Session, *, assignment_id: int, actor: Principal) -> None:
    actor.require_role("admin", action="unassign brokers")
    assignment = session.get(BrokerAssignment, assignment_id)
    if assignment is None:
        raise NotFound(f"broker assignment {assignment_id} does not exist", ["path", "assignment_id"])
    changes = {"broker_org_id": assignment.broker_org_id, "org_id": assignment.org_id, "note": assignment.note}
    history.record(session, entity_type=ENTITY, entity_id=assignment.id, action="delete", changes=changes, actor=actor)
    session.delete(assignment)
    session.flush()


def get_all(session: Session, *, query: AssignmentQuery, actor: Principal) -> list[BrokerAssignment]:
    """Admins see every assignment; an organization those where it is the broker or the client."""
    statement = select(BrokerAssignment)
    if not actor.is_admin:
        statement = statement.where(or_(BrokerAssignment.broker_org_id == actor.org_id, BrokerAssignment.org_id == actor.org_id))
    for name in ("broker_org_id", "org_id"):
        value = getattr(query, name)
        if value is not None:
            statement = statement.where(getattr(BrokerAssignment, name) == value)
    return list(session.scalars(statement.order_by(BrokerAssignment.id)))
