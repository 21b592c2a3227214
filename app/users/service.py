"""Users: invitation, sign-in with lock-out, and database-backed sessions.

Passwords are hashed with argon2id (argon2-cffi's defaults). Failed sign-ins are counted on the
user's row under its lock: from `SLOW_AFTER` failures on, the next try is refused until a delay
doubling with each failure has passed, and at `Settings.web_lock_after` failures the account is
locked for `web_lock_minutes`. A success resets the count. An unknown identifier gets the same
answer as a wrong password, after the same hashing work.
"""

import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from app.accounts import service as accounts
from app.auth import Principal, hash_key
from app.config import Settings
from app.database import lock_row, utcnow
from app.errors import Conflict, Forbidden
from app.organizations import service as organizations
from app.users.models import User, WebSession
from app.users.schemas import UserCreate, normalize_email, normalize_phone

SLOW_AFTER = 3  # failures before each further try must wait
MAX_DELAY_SECONDS = 60
WRONG_CREDENTIALS = "账号或密码错误 / wrong phone number, e-mail or password"

_hasher = PasswordHasher()
# Verified when the identifier names no user, so an unknown account costs the same time as a known one.
_DUMMY_HASH = _hasher.hash(secrets.token_urlsafe(16))


def create(session: Session, *, data: UserCreate) -> User:
    """A new user (the command line, or an invitation that passed `invite`'s check)."""
    organizations.get_or_raise(session, org_id=data.org_id)
    for attr, value in (("email", data.email), ("phone", data.phone)):
        if value and session.scalar(select(User.id).where(getattr(User, attr) == value)) is not None:
            raise Conflict(f"{value} 已被其他用户使用 / already used by another user", ["body", attr])
    user = User(
        org_id=data.org_id, role=data.role, name=data.name, email=data.email, phone=data.phone,
        password_hash=_hasher.hash(data.password),
    )
    session.add(user)
    session.flush()
    return user


def invite(session: Session, *, data: UserCreate, actor: Principal) -> User:
    """Admins invite anyone; owners invite owners and readers of their own organization (as with API keys)."""
    if not accounts.may_grant(actor, org_id=data.org_id, role=data.role):
        raise Forbidden(f"role {actor.role!r} may not invite a {data.role!r} into organization {data.org_id}", ["body", "role"])
    return create(session, data=data)


def get_all(session: Session, *, actor: Principal) -> list[User]:
    """The users the caller may see: its own organization's (its owners), every one (an admin).
    Brokers and readers see none: the list holds people's e-mails and phone numbers."""
    if not actor.can_manage(actor.org_id):
        raise Forbidden(f"role {actor.role!r} may not list the organization's users; needs owner or admin")
    query = select(User).order_by(User.id)
    if not actor.is_admin:
        query = query.where(User.org_id == actor.org_id)
    return list(session.scalars(query))


def find(session: Session, *, identifier: str) -> User | None:
    """The user whose e-mail (when `identifier` has an @) or phone number it is."""
    identifier = identifier.strip()
    if "@" in identifier:
        return session.scalar(select(User).where(User.email == normalize_email(identifier)))
    return session.scalar(select(User).where(User.phone == normalize_phone(identifier)))


@dataclass(frozen=True)
class SignIn:
    """The outcome of one try: the user when it succeeded, else the reason to show."""

    user: User | None
    refusal: str = ""


def _wait_seconds(user: User, now: datetime) -> int:
    """Seconds before this user may try again (0: now)."""
    if user.locked_until and user.locked_until > now:
        return int((user.locked_until - now).total_seconds()) + 1
    if user.failed_sign_ins >= SLOW_AFTER and user.last_failed_at:
        delay = min(2 ** (user.failed_sign_ins - SLOW_AFTER + 1), MAX_DELAY_SECONDS)
        left = (user.last_failed_at + timedelta(seconds=delay) - now).total_seconds()
        return max(0, int(left) + 1) if left > 0 else 0
    return 0


def sign_in(session: Session, *, identifier: str, password: str, settings: Settings, now: datetime | None = None) -> SignIn:
    """Check a password; count failures and lock as the module says. The caller commits either way."""
    now = now or utcnow()
    found = find(session, identifier=identifier)
    user = lock_row(session, User, found.id) if found is not None else None
    if user is None or user.disabled_at is not None:
        _verify(_DUMMY_HASH, password)
        return SignIn(None, WRONG_CREDENTIALS)
    wait = _wait_seconds(user, now)
    if wait:
        locked = user.locked_until is not None and user.locked_until > now
        what = "账号已被暂时锁定" if locked else "尝试过于频繁"
        return SignIn(None, f"{what}，请 {wait} 秒后再试 / too many failed sign-ins, try again in {wait} s")
    if not _verify(user.password_hash, password):
        user.failed_sign_ins += 1
        user.last_failed_at = now
        if user.failed_sign_ins >= settings.web_lock_after:
            user.locked_until = now + timedelta(minutes=settings.web_lock_minutes)
            user.failed_sign_ins = 0
            minutes = f"{settings.web_lock_minutes:g}"
            return SignIn(None, f"连续失败次数过多，账号已锁定 {minutes} 分钟 / account locked for {minutes} minutes")
        return SignIn(None, WRONG_CREDENTIALS)
    user.failed_sign_ins = 0
    user.last_failed_at = None
    user.locked_until = None
    if _hasher.check_needs_rehash(user.password_hash):
        user.password_hash = _hasher.hash(password)
    return SignIn(user)


def _verify(password_hash: str, password: str) -> bool:
    try:
        return _hasher.verify(password_hash, password)
    except (VerificationError, InvalidHashError):
        return False


def start_session(session: Session, *, user: User, settings: Settings, now: datetime | None = None) -> str:
    """A new session for `user`; returns the cookie's token (only its hash is stored).

    Every sign-in also drops every expired session, whoever it was, by the `expires_at` index: the
    table holds no more than the sessions of the last `web_session_hours` plus one sign-in's gap,
    without a periodic job of its own.
    """
    now = now or utcnow()
    session.execute(delete(WebSession).where(WebSession.expires_at <= now))
    token = secrets.token_urlsafe(32)
    session.add(
        WebSession(
            token_hash=hash_key(token), user_id=user.id, csrf_token=secrets.token_urlsafe(32), created_at=now,
            expires_at=now + timedelta(hours=settings.web_session_hours),
        )
    )
    session.flush()
    return token


def current(session: Session, *, token: str, now: datetime | None = None) -> tuple[User, WebSession] | None:
    """The user and session of a cookie token, or None when unknown, expired or the user is disabled."""
    now = now or utcnow()
    row = session.execute(
        select(User, WebSession).join(WebSession, WebSession.user_id == User.id).where(WebSession.token_hash == hash_key(token))
    ).first()
    if row is None:
        return None
    user, web_session = row
    if web_session.expires_at <= now or user.disabled_at is not None:
        return None
    return user, web_session


def end_session(session: Session, *, token: str) -> None:
    session.execute(delete(WebSession).where(WebSession.token_hash == hash_key(token)))


def principal_of(session: Session, *, user: User) -> Principal:
    """The user acts exactly as an API key of its organization and role would."""
    return accounts.principal_for(session, org_id=user.org_id, role=user.role, user_id=user.id)

