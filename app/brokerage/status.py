"""The shortlist entry life cycle, one explicit table."""

from app.states import StateMachine

# A demand–achievement pair a broker works on. `contract_signed` is reached only by recording
# the technology contract (POST /contracts), so a signed pair always has its contract on file.
SHORTLIST = StateMachine(
    name="shortlist entry",
    transitions={
        "suggested": ("contacted", "dropped"),
        "contacted": ("negotiating", "dropped"),
        "negotiating": ("contract_signed", "dropped"),
        "contract_signed": (),
        "dropped": (),  # with a reason
    },
)
# Entries still being worked on: one per pair and broker organization.
ACTIVE = ("suggested", "contacted", "negotiating")
