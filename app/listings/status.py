"""The listing life cycle: draft → published → closed | withdrawn.

A draft may also be withdrawn before anyone saw it; closed and withdrawn are final (a record
that was public stays on file, its history intact).
"""

from app.errors import Conflict

TRANSITIONS: dict[str, tuple[str, ...]] = {
    "draft": ("published", "withdrawn"),
    "published": ("closed", "withdrawn"),
    "closed": (),
    "withdrawn": (),
}

# Statuses anyone with a key may read; the rest are the owner's (and admins') alone.
PUBLIC = ("published", "closed")
# Statuses whose content may still be edited.
EDITABLE = ("draft", "published")


def check_transition(current: str, target: str) -> None:
    allowed = TRANSITIONS[current]
    if target not in allowed:
        raise Conflict(
            f"cannot move from {current!r} to {target!r}; allowed next: {', '.join(allowed) or 'none'}",
            ["body", "status"],
        )
