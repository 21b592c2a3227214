"""Who is calling: API keys, their roles, and the checks every service applies.

Keys are random 256-bit tokens, so a plain SHA-256 is enough to store them safely
(no dictionary to guess from); the key itself is shown once, at creation.
"""

import hashlib
import secrets
from dataclasses import dataclass

from app.errors import Forbidden

ROLES = ("owner", "broker", "admin", "reader")
KEY_PREFIX = "tm_"


def new_key() -> str:
    return KEY_PREFIX + secrets.token_urlsafe(32)


def hash_key(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


@dataclass(frozen=True)
class Principal:
    """The caller behind a key: its organization and role.

    `broker_orgs` is what a broker key may act for: the organizations assigned to its
    organization, or None for the province's own brokers, who act for every organization;
    empty for every other role. `key_id` is None for the command line and for import jobs
    started by it, which act without an API key, and for people signed in to the web pages,
    who are named by `user_id` instead.
    """

    key_id: int | None
    org_id: int
    role: str
    broker_orgs: frozenset[int] | None = frozenset()
    user_id: int | None = None

    @property
    def is_admin(self) -> bool:
        return self.role == "admin"

    def can_manage(self, org_id: int) -> bool:
        """Owners act for their own organization's records; admins for everyone's."""
        return self.is_admin or (self.role == "owner" and self.org_id == org_id)

    def brokers_for(self, org_id: int) -> bool:
        """A broker key acting for organization `org_id` (reviewing its proposals, pairing its records)."""
        return self.role == "broker" and (self.broker_orgs is None or org_id in self.broker_orgs)

    def require_manage(self, org_id: int, what: str) -> None:
        if not self.can_manage(org_id):
            raise Forbidden(f"only the owning organization or an admin may change {what}")

    def require_role(self, *roles: str, action: str) -> None:
        if self.role not in roles:
            raise Forbidden(f"role {self.role!r} may not {action}; needs one of {', '.join(roles)}")
