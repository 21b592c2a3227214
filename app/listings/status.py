"""The life cycles of the two lists, each one explicit table of allowed transitions.

Achievements follow the listing life cycle: draft → published → closed | withdrawn (a draft may
also be withdrawn before anyone saw it). Demands follow the 揭榜挂帅 life cycle, the listing
one plus the call's outcome: a published demand goes `in_progress` when a proposal is awarded
and ends `completed` (验收通过), `failed` or `terminated`. Final states have no next state; a
record that was public stays on file, its history intact.
"""

from app.states import StateMachine

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
    active=("published",),
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
    active=("published", "in_progress"),  # still open, or under way (揭榜中)
)
