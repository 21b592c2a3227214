"""Routes for an organization's webhook: /organizations/{org_id}/webhook."""

from fastapi import APIRouter, Response

from app.dependencies import PrincipalDep, SessionDep
from app.schemas import Id
from app.webhooks import service
from app.webhooks.schemas import WebhookRead, WebhookSettings

router = APIRouter(prefix="/organizations/{org_id}/webhook", tags=["webhooks"])


@router.put("", response_model=WebhookRead, summary="Register or replace the organization's webhook (owners, admins)")
def put_webhook(org_id: Id, data: WebhookSettings, session: SessionDep, principal: PrincipalDep):
    return service.put(session, org_id=org_id, data=data, actor=principal)


@router.get("", response_model=WebhookRead, summary="The organization's webhook, without its secret")
def get_webhook(org_id: Id, session: SessionDep, principal: PrincipalDep):
    return service.get_or_raise(session, org_id=org_id, actor=principal)


@router.delete("", status_code=204, summary="Remove the organization's webhook")
def delete_webhook(org_id: Id, session: SessionDep, principal: PrincipalDep):
    service.delete(session, org_id=org_id, actor=principal)
    return Response(status_code=204)
