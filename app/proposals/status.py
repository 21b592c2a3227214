"""The proposal and milestone life cycles, each one explicit table (the demand's is in app/listings/status.py)."""

from app.states import StateMachine

# A 揭榜方案 from submission to the owner's decision; the applicant may withdraw it while it is open.
PROPOSAL = StateMachine(
    name="proposal",
    transitions={
        "submitted": ("shortlisted", "awarded", "rejected", "not_selected", "withdrawn"),
        "shortlisted": ("awarded", "rejected", "not_selected", "withdrawn"),
        "awarded": (),  # the 揭榜方 (winner); the demand carries the rest of the story
        "rejected": (),  # with a reason
        "not_selected": (),  # another proposal was awarded
        "withdrawn": (),
    },
)
# Proposals that still count as the organization's one application to a demand.
ACTIVE = ("submitted", "shortlisted", "awarded")
# Proposals the applicant may still edit or withdraw (before the application deadline).
OPEN = ("submitted", "shortlisted")

# One milestone of the winner's 军令状: reported by the winner, accepted or returned by the demand owner.
MILESTONE = StateMachine(
    name="milestone",
    transitions={
        "pending": ("reported",),
        "reported": ("accepted", "returned"),
        "returned": ("reported",),
        "accepted": (),
    },
)
# Milestones the winner still has to report: the ones a due date reminds it of.
AWAITING_REPORT = ("pending", "returned")
