"""Routes for API keys."""

from fastapi import APIRouter

from app.accounts import service
from app.accounts.schemas import KeyCreate, KeyCreated, KeyRead, Me
from app.dependencies import PrincipalDep, SessionDep
from app.schemas import Id

router = APIRouter(tags=["accounts"])


@router.get("/me", response_model=Me, summary="The caller's key, organization and role")
def who_am_i(principal: PrincipalDep):
    return Me(key_id=principal.key_id, org_id=principal.org_id, role=principal.role)


@router.post(
    "/organizations/{org_id}/keys", response_model=KeyCreated, status_code=201, summary="Issue an API key (shown once)"
)
def create_key(org_id: Id, data: KeyCreate, session: SessionDep, principal: PrincipalDep):
    row, key = service.issue_for(session, org_id=org_id, role=data.role, label=data.label, actor=principal)
    return KeyCreated(**KeyRead.model_validate(row).model_dump(), key=key)


@router.get("/organizations/{org_id}/keys", response_model=list[KeyRead], summary="List an organization's keys")
def list_keys(org_id: Id, session: SessionDep, principal: PrincipalDep):
    return service.get_all(session, org_id=org_id, actor=principal)


@router.delete("/keys/{key_id}", response_model=KeyRead, summary="Revoke an API key")
def revoke_key(key_id: Id, session: SessionDep, principal: PrincipalDep):
    return service.revoke(session, key_id=key_id, actor=principal)
