"""The life cycles of the two lists, each one explicit table of allowed transitions.

Achievements follow the listing life cycle: draft → published → closed | withdrawn (a draft may
also be withdrawn before anyone saw it). Demands follow the 揭榜挂帅 life cycle, the listing
one plus the call's outcome: a published demand goes `in_progress` when a proposal is awarded
and ends `completed` (验收通过), `failed` or `terminated`. Final states have no next state; a
record that was public stays on file, its history intact.
"""

from collections.abc import Sequence
from dataclasses import dataclass

from app.errors import Conflict


@dataclass(frozen=True)
class StateMachine:
    """One table of allowed transitions, checked before every status change.

    `public` are the states anyone with a key may read (the rest are the owner's and admins'),
    `editable` the states whose content may still change.
    """

    name: str
    transitions: dict[str, tuple[str, ...]]
    public: tuple[str, ...] = ()
    editable: tuple[str, ...] = ()

    @property
    def states(self) -> tuple[str, ...]:
        return tuple(self.transitions)

    def allowed(self, current: str) -> tuple[str, ...]:
        return self.transitions[current]

    def check(self, current: str, target: str, loc: Sequence[str | int] = ("body", "status")) -> None:
        """409 naming the current state and the allowed next ones unless `current → target` is in the table."""
        allowed = self.transitions[current]
        if target not in allowed:
            raise Conflict(
                f"{self.name} is {current!r} and cannot move to {target!r}; allowed next: {', '.join(allowed) or 'none'}",
                loc,
            )


LISTING = StateMachine(
    name="listing",
    transitions={
        "draft": ("published", "withdrawn"),
        "published": ("closed", "withdrawn"),
        "closed": (),
        "withdrawn": (),
    },
    public=("published", "closed"),
    editable=("draft", "published"),
)

# The demand (技术需求榜单) life cycle: the whole 揭榜 path in one table.
DEMAND = StateMachine(
    name="demand",
    transitions={
        "draft": ("published", "withdrawn"),
        "published": ("in_progress", "closed", "withdrawn"),  # in_progress: a proposal was awarded
        "in_progress": ("completed", "failed", "terminated"),
        "completed": (),  # 验收通过: every milestone accepted
        "failed": (),  # with a reason
        "terminated": (),  # with a reason
        "closed": (),
        "withdrawn": (),
    },
    public=("published", "closed", "in_progress", "completed", "failed", "terminated"),
    editable=("draft", "published"),
)
