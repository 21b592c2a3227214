"""An organization's webhook settings, the address check, and queueing notifications for delivery."""

import ipaddress
import json
import socket
from urllib.parse import urlsplit

from sqlalchemy.orm import Session

from app.auth import Principal
from app.database import utcnow
from app.errors import Forbidden, InvalidInput, NotFound
from app.notifications.models import Notification
from app.notifications.schemas import NotificationRead
from app.organizations import service as organizations
from app.webhooks.models import OutboxMessage, Webhook
from app.webhooks.schemas import WebhookSettings


def url_problem(url: str, *, allow_private: bool) -> str | None:
    """Why `url` may not receive webhooks, or None.

    Only http(s). Unless allowed, every address the host resolves to must be a public one, so a
    webhook cannot be aimed at the service's own network (loopback, private, link-local, reserved).
    """
    parts = urlsplit(url)
    if parts.scheme.lower() not in ("http", "https") or not parts.hostname:
        return "the webhook url must be http:// or https:// with a host"
    if allow_private:
        return None
    try:
        port = parts.port or (443 if parts.scheme.lower() == "https" else 80)
        infos = socket.getaddrinfo(parts.hostname, port, proto=socket.IPPROTO_TCP)
    except (OSError, ValueError) as error:
        return f"cannot resolve the webhook host {parts.hostname!r}: {error}"
    for *_, sockaddr in infos:
        address = ipaddress.ip_address(str(sockaddr[0]).split("%")[0])
        if address.version == 6 and address.ipv4_mapped:
            address = address.ipv4_mapped
        if not address.is_global or address.is_multicast:
            return f"the webhook host {parts.hostname!r} resolves to {address}, a private, loopback or reserved address"
    return None


def _get_organization(session: Session, org_id: int, actor: Principal):
    organization = organizations.get_or_raise(session, org_id=org_id)
    actor.require_manage(organization.id, f"the webhook of organization {org_id}")
    return organization


def get_or_raise(session: Session, *, org_id: int, actor: Principal) -> Webhook:
    _get_organization(session, org_id, actor)
    webhook = session.get(Webhook, org_id)
    if webhook is None:
        raise NotFound(f"organization {org_id} has no webhook", ["path", "org_id"])
    return webhook


def put(session: Session, *, org_id: int, data: WebhookSettings, actor: Principal) -> Webhook:
    """Register or replace the organization's webhook (its owners or an admin; `allow_private` admins only)."""
    _get_organization(session, org_id, actor)
    if data.allow_private and not actor.is_admin:
        raise Forbidden("only an admin may allow a private or loopback webhook address")
    problem = url_problem(data.url, allow_private=data.allow_private)
    if problem:
        raise InvalidInput(problem, ["body", "url"])
    webhook = session.get(Webhook, org_id)
    if webhook is None:
        webhook = Webhook(org_id=org_id)
        session.add(webhook)
    webhook.url, webhook.secret, webhook.allow_private = data.url, data.secret, data.allow_private
    webhook.updated_at = utcnow()
    session.flush()
    return webhook


def delete(session: Session, *, org_id: int, actor: Principal) -> None:
    """Remove the webhook; messages still queued for it fail instead of being sent."""
    session.delete(get_or_raise(session, org_id=org_id, actor=actor))
    session.flush()


def enqueue(session: Session, notification: Notification) -> None:
    """Queue `notification` for its organization's webhook, if it has one, in the caller's transaction."""
    if session.get(Webhook, notification.org_id) is None:
        return
    session.flush()  # the notification's id and time go into the body
    body = {"event": notification.kind, "notification": NotificationRead.model_validate(notification).model_dump(mode="json")}
    session.add(
        OutboxMessage(
            org_id=notification.org_id, notification_id=notification.id, status="pending",
            body=json.dumps(body, ensure_ascii=False), next_attempt_at=utcnow(),
        )
    )
