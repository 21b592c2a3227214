"""Organizations: plain functions over a session."""

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from app.auth import Principal
from app.catalog.regions import Region
from app.errors import Conflict, Forbidden, NotFound
from app.organizations.models import Organization
from app.organizations.schemas import OrganizationCreate, OrganizationUpdate


def get_or_raise(session: Session, *, org_id: int) -> Organization:
    organization = session.get(Organization, org_id)
    if organization is None:
        raise NotFound(f"organization {org_id} does not exist", ["path", "org_id"])
    return organization


def _check_credit_code_free(session: Session, code: str | None, own_id: int | None = None) -> None:
    if code is None:
        return
    holder = session.scalar(select(Organization.id).where(Organization.credit_code == code))
    if holder is not None and holder != own_id:
        raise Conflict(f"credit code {code} already belongs to organization {holder}", ["body", "credit_code"])


def create(session: Session, *, data: OrganizationCreate) -> Organization:
    """Register an organization (admins and the command line do this)."""
    _check_credit_code_free(session, data.credit_code)
    organization = Organization(
        name=data.name, kind=data.kind, credit_code=data.credit_code, contact=data.contact.model_dump(), broker_scope=data.broker_scope
    )
    organization.set_region(data.region)
    session.add(organization)
    session.flush()
    return organization


def update(session: Session, *, organization: Organization, data: OrganizationUpdate, actor: Principal) -> Organization:
    """Change an organization's profile: its own owners or an admin (the broker scope: admins only)."""
    if not actor.can_manage(organization.id):
        raise Forbidden("only the organization's owners or an admin may change its profile")
    values = data.model_dump(exclude_unset=True)
    if values.get("broker_scope") is not None:
        actor.require_role("admin", action="change an organization's broker scope")
        organization.broker_scope = values["broker_scope"]
    if "credit_code" in values:
        _check_credit_code_free(session, values["credit_code"], organization.id)
        organization.credit_code = values["credit_code"]
    if "region" in values:
        organization.set_region(values["region"])
    if values.get("name"):
        organization.name = values["name"]
    if values.get("contact") is not None:
        organization.contact = values["contact"]
    session.flush()
    return organization


def get_page(
    session: Session, *, kind: str | None, region: Region | None, q: str | None, page: int, size: int
) -> tuple[list[Organization], int]:
    query = select(Organization)
    if kind:
        query = query.where(Organization.kind == kind)
    if region:
        query = query.where(Organization.in_region(region))
    if q:
        query = query.where(Organization.name.ilike(f"%{q}%"))
    total = session.execute(select(func.count()).select_from(query.subquery())).scalar_one()
    rows = session.scalars(query.order_by(Organization.id).offset((page - 1) * size).limit(size))
    return list(rows), total

