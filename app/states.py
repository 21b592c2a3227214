"""Life cycles as explicit tables of allowed transitions, shared by every domain.

Each domain declares its own tables in its `status.py` (listings, proposals, brokerage,
interests); the state lists there are the only ones, and models, schemas and SQL derive from them.
"""

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from sqlalchemy import TextClause, text

from app.errors import Conflict


@dataclass(frozen=True)
class StateMachine:
    """One table of allowed transitions, checked before every status change.

    `public` are the states anyone with a key may read (the rest are the owner's and admins'),
    `editable` the states whose content may still change, `active` the states of a record
    still open or under way (what the statistics and the annual report count as active).
    """

    name: str
    transitions: dict[str, tuple[str, ...]]
    public: tuple[str, ...] = ()
    editable: tuple[str, ...] = ()
    active: tuple[str, ...] = ()

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


def status_in(states: Iterable[str]) -> TextClause:
    """`status IN ('a', 'b')` as literal SQL, for a partial index's WHERE clause.

    Index predicates are written into the DDL as text (no bound parameters), so the list is
    spelled out here from the state table rather than typed again next to the index.
    """
    return text("status IN (" + ", ".join(f"'{state}'" for state in states) + ")")
