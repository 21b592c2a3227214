"""The interest life cycle, one explicit table."""

from app.states import StateMachine

INTEREST = StateMachine(
    name="interest",
    transitions={
        "pending": ("accepted", "declined", "withdrawn"),  # accepted/declined: the achievement's owner; withdrawn: the interested org
        "accepted": (),
        "declined": (),
        "withdrawn": (),
    },
)
