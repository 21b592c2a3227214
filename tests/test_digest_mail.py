"""Digest e-mail: a digest becomes exactly one mail to the right addresses, through a real SMTP
server (aiosmtpd, with login) started here; nothing is mailed without SMTP settings; a mail the
server refuses is retried later and still arrives once."""

import email
import socket
from datetime import timedelta
from email.message import EmailMessage

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword
from payloads import demand
from pydantic import SecretStr
from sqlalchemy import select, update
from test_dispatch import ANSWER, Dispatcher, post

from app.clock import china_today
from app.database import session_scope, utcnow
from app.dispatch.models import MAIL_PENDING, MAIL_SENT, DigestItem, DigestMail

API = "/api/v1"
USER, PASSWORD = "techmatch", "smtp-s3cret"
# Login without TLS is what this loopback server allows; aiosmtpd warns about it.
pytestmark = pytest.mark.filterwarnings("ignore:Requiring AUTH while not requiring TLS")


class Inbox:
    """An aiosmtpd handler keeping what it accepted; it answers 451 to the first `refuse` messages."""

    def __init__(self, refuse: int = 0):
        self.refuse = refuse
        self.refused = 0
        self.accepted: list[tuple[list[str], EmailMessage]] = []

    async def handle_DATA(self, server, session, envelope):  # noqa: N802 (aiosmtpd's hook name)
        if self.refused < self.refuse:
            self.refused += 1
            return "451 4.3.0 mailbox busy, try again later"
        parsed = email.message_from_bytes(envelope.original_content, _class=EmailMessage, policy=email.policy.default)
        self.accepted.append((list(envelope.rcpt_tos), parsed))
        return "250 2.0.0 OK"


def authenticator(server, session, envelope, mechanism, auth_data):
    ok = isinstance(auth_data, LoginPassword) and (auth_data.login, auth_data.password) == (USER.encode(), PASSWORD.encode())
    return AuthResult(success=ok)


@pytest.fixture
def smtp():
    """A local SMTP server requiring login (no TLS on loopback); yields (inbox, settings for the dispatcher)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    inbox = Inbox()
    controller = Controller(
        inbox, hostname="127.0.0.1", port=port, authenticator=authenticator, auth_required=True, auth_require_tls=False,
    )
    controller.start()
    settings = {
        "smtp_host": "127.0.0.1", "smtp_port": port, "smtp_user": USER, "smtp_password": SecretStr(PASSWORD), "smtp_security": "none",
        "smtp_from": "noreply@kjcg.example.cn", "public_url": "https://kjcg.example.cn",
    }
    try:
        yield inbox, settings
    finally:
        controller.stop()


def digests_waiting(world, app, dispatcher: Dispatcher) -> dict[int, list[tuple[int, int, float]]]:
    """Strong pairs for enterprise A (a new answer to its demand) and for the university (a new demand its
    achievement answers), all held for the digest (daily cap 0) and dated yesterday; {org: [(demand, achievement, relevance)]}."""
    post(world, "demands", demand(), world.ent_a)
    dispatcher.run()
    post(world, "achievements", ANSWER, world.uni)
    dispatcher.run()
    post(world, "demands", demand(title="纯电动乘用车冬季续航衰减"), world.ent_b)
    dispatcher.run()
    with session_scope(app.state.session_factory) as session:
        session.execute(update(DigestItem).values(day=china_today() - timedelta(days=1)))
        items = list(session.scalars(select(DigestItem)))
        waiting: dict[int, list[tuple[int, int, float]]] = {}
        for item in items:
            waiting.setdefault(item.org_id, []).append((item.demand_id, item.achievement_id, item.relevance))
    assert set(waiting) >= {world.ent_a_id, world.uni_id}, waiting
    return waiting


def mails(app) -> list[DigestMail]:
    with session_scope(app.state.session_factory, read_only=True) as session:
        return list(session.scalars(select(DigestMail).order_by(DigestMail.id)))


def test_a_digest_is_mailed_once_to_the_chosen_addresses_or_the_contact_email(world, app, smtp):
    inbox, mail_settings = smtp
    contact = {"contact": {"name": "王工", "email": "wanggong@ent-a.example.cn"}}
    assert world.client.patch(f"{API}/organizations/{world.ent_a_id}", json=contact, headers=world.admin).status_code == 200
    url = f"{API}/organizations/{world.uni_id}/dispatch-settings"
    bad = world.client.put(url, json={"digest_emails": ["not-an-address"]}, headers=world.uni)
    assert bad.status_code == 422 and bad.json()["detail"][0]["loc"][:2] == ["body", "digest_emails"], bad.text
    chosen = ["keji@jlu.example.cn", "zhuanhua@jlu.example.cn"]
    response = world.client.put(url, json={"digest_emails": chosen}, headers=world.uni)
    assert response.status_code == 200 and response.json()["digest_emails"] == chosen
    dispatcher = Dispatcher(app, dispatch_daily_cap=0, **mail_settings)
    waiting = digests_waiting(world, app, dispatcher)

    dispatcher.run()  # sends the digests and mails them
    dispatcher.run()
    Dispatcher(app, fresh=True, dispatch_daily_cap=0, **mail_settings).run()  # a restarted worker sends nothing again
    addressed = {tuple(sorted(to)): message for to, message in inbox.accepted}
    assert len(inbox.accepted) == 2 and set(addressed) == {("wanggong@ent-a.example.cn",), tuple(chosen)}, addressed
    day = (china_today() - timedelta(days=1)).isoformat()
    for org_id, to in ((world.ent_a_id, ("wanggong@ent-a.example.cn",)), (world.uni_id, tuple(chosen))):
        message = addressed[to]
        text = message.get_body(("plain",)).get_content()
        page = message.get_body(("html",)).get_content()
        assert day in message["Subject"] and f"{len(waiting[org_id])} 对" in message["Subject"]
        for demand_id, achievement_id, relevance in waiting[org_id]:
            assert f"技术需求 {demand_id}" in text and f"科技成果 {achievement_id}" in text and f"相关度 {relevance:.2f}" in text
            assert f"https://kjcg.example.cn/api/v1/achievements/{achievement_id}" in text
            assert f'href="https://kjcg.example.cn/api/v1/demands/{demand_id}"' in page
        assert message["Message-ID"].startswith("<techmatch-digest-")
    assert [(m.status, m.attempts) for m in mails(app)] == [(MAIL_SENT, 1), (MAIL_SENT, 1)]
    assert all(m.sent_at is not None for m in mails(app))


def test_nothing_is_mailed_without_smtp_settings(world, app, smtp):
    inbox, _ = smtp
    contact = {"contact": {"name": "王工", "email": "wanggong@ent-a.example.cn"}}
    assert world.client.patch(f"{API}/organizations/{world.ent_a_id}", json=contact, headers=world.admin).status_code == 200
    dispatcher = Dispatcher(app, dispatch_daily_cap=0)
    digests_waiting(world, app, dispatcher)
    dispatcher.run()
    assert dispatcher.notifications(world.ent_a_id, "match_digest")  # the digest itself is sent
    assert inbox.accepted == [] and mails(app) == []


def test_a_refused_mail_is_retried_later_and_arrives_once(world, app, smtp, caplog):
    inbox, mail_settings = smtp
    inbox.refuse = 1
    contact = {"contact": {"name": "王工", "email": "wanggong@ent-a.example.cn"}}
    assert world.client.patch(f"{API}/organizations/{world.ent_a_id}", json=contact, headers=world.admin).status_code == 200
    dispatcher = Dispatcher(app, dispatch_daily_cap=0, **mail_settings)
    digests_waiting(world, app, dispatcher)
    dispatcher.run()
    (mail,) = mails(app)
    assert inbox.refused == 1 and inbox.accepted == []
    assert (mail.status, mail.attempts, mail.sent_at) == (MAIL_PENDING, 1, None) and "451" in mail.last_error
    assert mail.next_attempt_at > utcnow() + timedelta(seconds=30)  # backoff: not retried at once
    assert f"digest mail {mail.id} to wanggong@ent-a.example.cn (organization {world.ent_a_id}), attempt 1" in caplog.text

    dispatcher.run()
    assert inbox.refused == 1 and inbox.accepted == []  # not due yet
    with session_scope(app.state.session_factory) as session:  # the backoff has passed
        session.execute(update(DigestMail).values(next_attempt_at=utcnow() - timedelta(seconds=1)))
    dispatcher.run()
    dispatcher.run()
    assert [to for to, _ in inbox.accepted] == [["wanggong@ent-a.example.cn"]]
    (mail,) = mails(app)
    assert (mail.status, mail.attempts, mail.last_error) == (MAIL_SENT, 2, "")
