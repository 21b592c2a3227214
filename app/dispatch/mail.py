"""Digest e-mail (摘要邮件): a daily digest also mailed through the SMTP server of the settings.

Off unless `TECHMATCH_SMTP_HOST` is set. The mail is composed and queued (`digest_mails`) in the
transaction that sends the digest, so each digest has exactly one mail whatever crashes; its own
worker (`DigestMailWorker`, so a slow SMTP server never delays the dispatch of matches) then sends
it the way the webhook outbox does: claim it by pushing its retry time past the send, send outside
any transaction, record the outcome (`sent_at`, or the error and a doubled backoff). A failure is
logged with the mail, organization and recipients and never stops the worker.

Recipients: the addresses the organization set in its dispatch settings, else its contact
e-mail; a digest of an organization with neither is not mailed.
"""

import html
import logging
import smtplib
import ssl
from dataclasses import dataclass
from datetime import date, timedelta
from email.message import EmailMessage
from email.utils import formataddr

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from app.background import DrainingWorker
from app.config import Settings
from app.database import session_scope, utcnow
from app.dispatch.models import MAIL_FAILED, MAIL_PENDING, MAIL_SENT, DigestMail, DigestRecipient
from app.notifications.models import Notification
from app.organizations.models import Organization
from app.retry import CLAIM_MARGIN_SECONDS, retry_delay

log = logging.getLogger("techmatch.dispatch.mail")


def chosen_recipients(session: Session, *, org_id: int) -> list[str]:
    """The addresses the organization set in its dispatch settings (digest_emails), in order."""
    return list(session.scalars(select(DigestRecipient.email).where(DigestRecipient.org_id == org_id).order_by(DigestRecipient.email)))


def recipients(session: Session, *, org_id: int) -> list[str]:
    """Where the organization's digest is mailed: its dispatch-settings addresses, else its contact e-mail."""
    chosen = chosen_recipients(session, org_id=org_id)
    if chosen:
        return chosen
    contact = session.scalar(select(Organization.contact).where(Organization.id == org_id)) or {}
    return [contact["email"]] if contact.get("email") else []


@dataclass(frozen=True)
class Pair:
    """One listed pair with the titles the mail shows."""

    demand_id: int
    demand_title: str
    achievement_id: int
    achievement_title: str
    relevance: float
    reason: str


REASONS = {"import": "批量导入", "cap": "超出每日通知上限"}


def compose(*, day: date, org_name: str, total: int, pairs: list[Pair], public_url: str | None) -> tuple[str, str, str]:
    """(subject, plain text, HTML) of one digest: the pairs by relevance, with ids and, given a public URL, links."""
    base = public_url.rstrip("/") if public_url else None

    def link(side: str, record_id: int) -> str:
        return f"{base}/api/v1/{side}/{record_id}" if base else ""

    subject = f"【技术供需匹配】{day.isoformat()} 匹配摘要：{total} 对新的高度匹配"
    intro = (f"{day.isoformat()} 常态化调度为贵机构找到 {total} 对新的高度匹配（批量导入或超出每日通知上限的部分），按相关度列出"
             + (f"前 {len(pairs)} 对：" if len(pairs) < total else "："))
    settings_hint = "可在“调度设置”（dispatch-settings）中更改收件地址或关闭每日摘要。"
    lines = [f"{org_name}：", "", intro, ""]
    rows = []
    for number, pair in enumerate(pairs, 1):
        lines.append(f"{number}. 相关度 {pair.relevance:.2f}（{REASONS[pair.reason]}）")
        lines.append(f"   技术需求 {pair.demand_id}「{pair.demand_title}」 {link('demands', pair.demand_id)}".rstrip())
        lines.append(f"   科技成果 {pair.achievement_id}「{pair.achievement_title}」 {link('achievements', pair.achievement_id)}".rstrip())
        rows.append(
            f"<tr><td>{number}</td><td>{pair.relevance:.2f}</td>"
            f"<td>{_html_record(pair.demand_id, pair.demand_title, link('demands', pair.demand_id))}</td>"
            f"<td>{_html_record(pair.achievement_id, pair.achievement_title, link('achievements', pair.achievement_id))}</td>"
            f"<td>{REASONS[pair.reason]}</td></tr>"
        )
    lines += ["", settings_hint, "—— 技术供需匹配平台"]
    body = (
        f"<p>{html.escape(org_name)}：</p><p>{html.escape(intro)}</p>"
        "<table border=\"1\" cellpadding=\"4\" cellspacing=\"0\"><tr><th>#</th><th>相关度</th><th>技术需求</th><th>科技成果</th>"
        f"<th>来源</th></tr>{''.join(rows)}</table><p>{html.escape(settings_hint)}</p>"
    )
    return subject, "\n".join(lines) + "\n", f"<html><body>{body}</body></html>"


def _html_record(record_id: int, title: str, url: str) -> str:
    label = f"{record_id}「{html.escape(title)}」"
    return f"<a href=\"{html.escape(url)}\">{label}</a>" if url else label


def queue(session: Session, *, notification: Notification, org_id: int, addresses: list[str], day: date, total: int,
          pairs: list[Pair], public_url: str | None) -> DigestMail:
    """Queue the mail of a digest just written to `addresses` (its `recipients`), in the caller's transaction."""
    org_name = session.scalar(select(Organization.name).where(Organization.id == org_id)) or ""
    subject, text, body = compose(day=day, org_name=org_name, total=total, pairs=pairs, public_url=public_url)
    session.flush()  # the notification's id
    mail = DigestMail(
        org_id=org_id, notification_id=notification.id, recipients=addresses, subject=subject, text=text, html=body,
        status=MAIL_PENDING, attempts=0, next_attempt_at=utcnow(), last_error="",
    )
    session.add(mail)
    return mail


@dataclass(frozen=True)
class _Claim:
    mail_id: int
    org_id: int
    recipients: list[str]
    subject: str
    text: str
    html: str


class DigestMailWorker(DrainingWorker):
    """Sends the due digest mails; started only when SMTP is set."""

    name = "digest-mail"
    logger = log

    def claim(self) -> _Claim | None:
        return _claim(self.session_factory, self.settings)

    def handle(self, claim: _Claim) -> None:
        _record(self.session_factory, self.settings, claim, _send(self.settings, claim))


def _claim(session_factory: sessionmaker[Session], settings: Settings) -> _Claim | None:
    """The oldest due mail, its retry time pushed past this send so that no other worker takes it."""
    with session_scope(session_factory) as session:
        now = utcnow()
        mail = session.scalar(
            select(DigestMail)
            .where(DigestMail.status == MAIL_PENDING, DigestMail.next_attempt_at <= now)
            .order_by(DigestMail.next_attempt_at, DigestMail.id)
            .limit(1)
            .with_for_update(skip_locked=True)
        )
        if mail is None:
            return None
        mail.next_attempt_at = now + timedelta(seconds=settings.smtp_timeout_seconds + CLAIM_MARGIN_SECONDS)
        return _Claim(mail.id, mail.org_id, list(mail.recipients), mail.subject, mail.text, mail.html)


def message(settings: Settings, claim: _Claim) -> EmailMessage:
    """The MIME message: plain text with an HTML alternative; its Message-ID names the digest mail, so a repeat is recognisable."""
    mail = EmailMessage()
    mail["Subject"] = claim.subject
    mail["From"] = formataddr(("技术供需匹配平台", settings.smtp_from))
    mail["To"] = ", ".join(claim.recipients)
    domain = settings.smtp_from.rpartition("@")[2] or "localhost"
    mail["Message-ID"] = f"<techmatch-digest-{claim.mail_id}@{domain}>"
    mail.set_content(claim.text)
    mail.add_alternative(claim.html, subtype="html")
    return mail


def _send(settings: Settings, claim: _Claim) -> str | None:
    """Hand the mail to the SMTP server; returns the error, or None once the server took it."""
    assert settings.smtp_host  # the worker runs only when it is set
    try:
        context = ssl.create_default_context()
        connection: smtplib.SMTP
        if settings.smtp_security == "ssl":
            connection = smtplib.SMTP_SSL(settings.smtp_host, settings.smtp_port, timeout=settings.smtp_timeout_seconds, context=context)
        else:
            connection = smtplib.SMTP(settings.smtp_host, settings.smtp_port, timeout=settings.smtp_timeout_seconds)
        with connection:
            if settings.smtp_security == "starttls":
                connection.starttls(context=context)
            if settings.smtp_user:
                password = settings.smtp_password.get_secret_value() if settings.smtp_password else ""
                connection.login(settings.smtp_user, password)
            refused = connection.send_message(message(settings, claim))
    except (smtplib.SMTPException, OSError) as failure:
        return f"{type(failure).__name__}: {failure}"
    if refused:  # some recipients refused, the others took it: sent, and the refusals logged
        log.warning("digest mail %d (organization %d): the server refused %s", claim.mail_id, claim.org_id, refused)
    return None


def _record(session_factory: sessionmaker[Session], settings: Settings, claim: _Claim, error: str | None) -> None:
    with session_scope(session_factory) as session:
        mail = session.get(DigestMail, claim.mail_id)
        if mail is None:  # deleted with its organization while it was sent
            return
        mail.attempts += 1
        now = utcnow()
        if error is None:
            mail.status, mail.sent_at, mail.last_error = MAIL_SENT, now, ""
            return
        mail.last_error = error[:500]
        context = f"digest mail {mail.id} to {', '.join(mail.recipients)} (organization {mail.org_id}), attempt {mail.attempts}"
        delay = retry_delay(mail.attempts, max_attempts=settings.smtp_max_attempts, backoff_seconds=settings.smtp_backoff_seconds,
                            backoff_max_seconds=settings.smtp_backoff_max_seconds)
        if delay is None:
            mail.status = MAIL_FAILED
            log.error("%s failed for good: %s", context, error)
            return
        mail.next_attempt_at = now + timedelta(seconds=delay)
        log.warning("%s failed, retrying in %.0fs: %s", context, delay, error)
