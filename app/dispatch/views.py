"""Routes for standing matchmaking: an organization's dispatch settings and saved searches.

    GET    /api/v1/organizations/{org_id}/dispatch-settings
    PUT    /api/v1/organizations/{org_id}/dispatch-settings
    POST   /api/v1/saved-searches
    GET    /api/v1/saved-searches
    DELETE /api/v1/saved-searches/{search_id}
"""

from fastapi import APIRouter, Response

from app.dependencies import PrincipalDep, SessionDep
from app.dispatch import service
from app.dispatch.schemas import DispatchSettings, SavedSearchCreate, SavedSearchRead
from app.schemas import Id

router = APIRouter(tags=["dispatch"])


@router.get(
    "/organizations/{org_id}/dispatch-settings", response_model=DispatchSettings,
    summary="Which match notifications the organization receives (owners, admins)",
)
def get_dispatch_settings(org_id: Id, session: SessionDep, principal: PrincipalDep):
    return service.get_settings(session, org_id=org_id, actor=principal)


@router.put(
    "/organizations/{org_id}/dispatch-settings", response_model=DispatchSettings,
    summary="Turn match notifications, digests and saved-search results on or off (owners, admins)",
)
def put_dispatch_settings(org_id: Id, data: DispatchSettings, session: SessionDep, principal: PrincipalDep):
    return service.put_settings(session, org_id=org_id, data=data, actor=principal)


@router.post("/saved-searches", status_code=201, response_model=SavedSearchRead, summary="Save a search: its new results are notified")
def create_saved_search(data: SavedSearchCreate, session: SessionDep, principal: PrincipalDep):
    return service.create_saved_search(session, data=data, actor=principal)


@router.get("/saved-searches", response_model=list[SavedSearchRead], summary="The caller's organization's saved searches")
def list_saved_searches(session: SessionDep, principal: PrincipalDep):
    return service.saved_searches(session, actor=principal)


@router.delete("/saved-searches/{search_id}", status_code=204, summary="Unsubscribe: delete a saved search")
def delete_saved_search(search_id: Id, session: SessionDep, principal: PrincipalDep):
    service.delete_saved_search(session, search_id=search_id, actor=principal)
    return Response(status_code=204)
