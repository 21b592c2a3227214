"""Routes for organizations."""

from typing import Annotated

from fastapi import APIRouter, Query

from app.catalog.regions import parse_region
from app.dependencies import PrincipalDep, SessionDep
from app.errors import InvalidInput
from app.organizations import service
from app.organizations.schemas import (
    OrganizationCreate,
    OrganizationKind,
    OrganizationRead,
    OrganizationUpdate,
)
from app.schemas import Id, Page, PageQuery

router = APIRouter(prefix="/organizations", tags=["organizations"])


@router.post("", response_model=OrganizationRead, status_code=201, summary="Register an organization (admin)")
def create_organization(data: OrganizationCreate, session: SessionDep, principal: PrincipalDep):
    principal.require_role("admin", action="register organizations")
    return service.create(session, data=data)


@router.get("", response_model=Page[OrganizationRead], summary="List organizations")
def list_organizations(
    session: SessionDep,
    principal: PrincipalDep,
    paging: Annotated[PageQuery, Query()],
    kind: OrganizationKind | None = None,
    region: str | None = Query(None, description="6-digit code at any level, e.g. 220000 or 220100"),
    q: str | None = Query(None, max_length=100, description="part of the name"),
):
    try:
        parsed = parse_region(region) if region else None
    except ValueError as error:
        raise InvalidInput(str(error), ["query", "region"]) from None
    items, total = service.get_page(
        session, kind=kind, region=parsed, q=q, page=paging.page, size=paging.size
    )
    return {"items": items, "total": total, "page": paging.page, "size": paging.size}


@router.get("/{org_id}", response_model=OrganizationRead, summary="One organization")
def get_organization(org_id: Id, session: SessionDep, principal: PrincipalDep):
    return service.get_or_raise(session, org_id=org_id)


@router.patch("/{org_id}", response_model=OrganizationRead, summary="Change an organization's profile")
def update_organization(org_id: Id, data: OrganizationUpdate, session: SessionDep, principal: PrincipalDep):
    organization = service.get_or_raise(session, org_id=org_id)
    return service.update(session, organization=organization, data=data, actor=principal)
