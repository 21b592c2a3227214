"""API keys: issue, authenticate, revoke, and the admin bootstrap."""

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.accounts.models import ApiKey
from app.auth import Principal, hash_key, new_key
from app.brokerage import assignments as brokerage
from app.database import utcnow
from app.errors import Forbidden, NotFound
from app.organizations import service as organizations
from app.organizations.models import Organization
from app.organizations.schemas import OrganizationCreate

# What a non-admin may hand out for its own organization.
SELF_ISSUABLE = {"owner": ("owner", "reader"), "broker": ("reader",)}


def issue(session: Session, *, org_id: int, role: str, label: str = "") -> tuple[ApiKey, str]:
    """A new key for `org_id`; returns the row and the key, which is not stored."""
    organizations.get_or_raise(session, org_id=org_id)
    key = new_key()
    row = ApiKey(org_id=org_id, role=role, label=label, prefix=key[:10], key_hash=hash_key(key))
    session.add(row)
    session.flush()
    return row, key


def may_grant(actor: Principal, *, org_id: int, role: str) -> bool:
    """Admins grant any role; owners grant owner or reader (brokers reader) in their own
    organization. The one rule for API keys and for web users alike."""
    allowed = SELF_ISSUABLE.get(actor.role, ()) if actor.org_id == org_id else ()
    return actor.is_admin or role in allowed


def issue_for(session: Session, *, org_id: int, role: str, label: str, actor: Principal) -> tuple[ApiKey, str]:
    """Admins issue any key; an owner issues owner or reader keys for its own organization."""
    if not may_grant(actor, org_id=org_id, role=role):
        raise Forbidden(f"role {actor.role!r} may not issue a {role!r} key for organization {org_id}")
    return issue(session, org_id=org_id, role=role, label=label)


def principal_for(session: Session, *, org_id: int, role: str, key_id: int | None = None, user_id: int | None = None) -> Principal:
    """The caller acting as `role` of `org_id`, through an API key or as a signed-in person."""
    broker_orgs = brokerage.assigned_orgs(session, broker_org_id=org_id) if role == "broker" else frozenset()
    return Principal(key_id=key_id, org_id=org_id, role=role, broker_orgs=broker_orgs, user_id=user_id)


def authenticate(session: Session, *, key: str) -> Principal | None:
    row = session.scalar(select(ApiKey).where(ApiKey.key_hash == hash_key(key)))
    if row is None or row.revoked_at is not None:
        return None
    return principal_for(session, org_id=row.org_id, role=row.role, key_id=row.id)


def get_all(session: Session, *, org_id: int, actor: Principal) -> list[ApiKey]:
    if not actor.can_manage(org_id):
        raise Forbidden("only the organization's owners or an admin may list its keys")
    return list(session.scalars(select(ApiKey).where(ApiKey.org_id == org_id).order_by(ApiKey.id)))


def revoke(session: Session, *, key_id: int, actor: Principal) -> ApiKey:
    row = session.get(ApiKey, key_id)
    if row is None:
        raise NotFound(f"API key {key_id} does not exist", ["path", "key_id"])
    if not actor.can_manage(row.org_id):
        raise Forbidden("only the organization's owners or an admin may revoke its keys")
    if row.revoked_at is None:
        row.revoked_at = utcnow()
    return row


def bootstrap_admin(session: Session, *, org_name: str) -> tuple[ApiKey, str]:
    """An admin key in the government organization `org_name`, created if missing."""
    org_id = session.scalar(
        select(Organization.id).where(Organization.name == org_name, Organization.kind == "government")
    )
    if org_id is None:
        org_id = organizations.create(session, data=OrganizationCreate(name=org_name, kind="government")).id
    return issue(session, org_id=org_id, role="admin", label="bootstrap admin")
