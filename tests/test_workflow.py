"""The 揭榜 workflow: proposals, review, award, milestones, the demand's outcome, interests and notifications."""

from datetime import datetime, timedelta

import pytest
from payloads import achievement, demand

from app.clock import CHINA_TZ
from app.database import session_scope
from app.proposals.reminders import MilestoneReminders, send_due_notices
from app.proposals.views import current_date

API = "/api/v1"
TODAY = datetime.now(CHINA_TZ).date()


def days(n: int) -> str:
    return (TODAY + timedelta(days=n)).isoformat()


def ok(response, status: int = 200) -> dict:
    assert response.status_code == status, response.text
    return response.json()


def conflict(response, *fragments: str) -> str:
    assert response.status_code == 409, response.text
    msg = response.json()["detail"][0]["msg"]
    for fragment in fragments:
        assert fragment in msg, msg
    return msg


def call(world, owner=None, **overrides) -> dict:
    """A published demand with the conditions of a call (榜单条件)."""
    body = demand(
        status="published",
        application_deadline=days(30),
        delivery_deadline=days(300),
        qualifications={"text": "具有电池热管理研发经验"},
        deliverables="低温热管理系统样机一套、测试报告",
        acceptance_criteria="-20℃下续航衰减不超过20%",
    )
    body.update(overrides)
    return ok(world.client.post(f"{API}/demands", json=body, headers=owner or world.ent_a), 201)


def proposal_body(**overrides) -> dict:
    body = {
        "technical_approach": "脉冲自加热与热泵耦合的电池低温热管理方案。",
        "lead": {"name": "李教授", "title": "教授", "institution": "吉林大学"},
        "team": [{"name": "张博士", "title": "副教授", "role": "系统设计"}],
        "budget": 1_800_000,
        "schedule": [{"title": "样机试制", "due_date": days(100)}, {"title": "整车低温测试", "due_date": days(200)}],
        "attachments": [{"name": "技术方案.pdf", "url": "https://example.org/plan.pdf", "size": 1024}],
    }
    body.update(overrides)
    return body


def apply(world, demand_id: int, key, **overrides):
    return world.client.post(f"{API}/demands/{demand_id}/proposals", json=proposal_body(**overrides), headers=key)


def post(world, path: str, key, body=None):
    return world.client.post(f"{API}{path}", json=body, headers=key)


def forbidden(response) -> None:
    assert response.status_code == 403, response.text


def unread(world, key) -> list[dict]:
    return ok(world.client.get(f"{API}/notifications", params={"unread": "true"}, headers=key))["items"]


def kinds(world, key) -> list[str]:
    return sorted(n["kind"] for n in unread(world, key))


def awarded_call(world) -> tuple[dict, dict, dict]:
    """(demand, winner by the university, loser by enterprise B): the demand is in progress."""
    record = call(world)
    winner = ok(apply(world, record["id"], world.uni), 201)
    loser = ok(apply(world, record["id"], world.ent_b, lead={"name": "赵工"}), 201)
    ok(post(world, f"/proposals/{winner['id']}/award", world.ent_a, {"amount": 1_500_000}))
    return record, winner, loser


def test_from_draft_demand_to_completed_with_two_competing_proposals(world):
    own = ok(world.client.post(f"{API}/achievements", json=achievement(status="published"), headers=world.uni), 201)
    draft = call(world, status="draft")
    assert draft["status"] == "draft" and draft["qualifications"]["university_only"] is False
    assert apply(world, draft["id"], world.uni).status_code == 404  # a draft is not even visible to applicants
    demand_id = ok(post(world, f"/demands/{draft['id']}/publish", world.ent_a))["id"]

    first = ok(apply(world, demand_id, world.uni, achievement_ids=[own["id"]]), 201)
    second = ok(apply(world, demand_id, world.ent_b, lead={"name": "赵工", "title": "高级工程师"}), 201)
    assert first["status"] == second["status"] == "submitted" and first["achievement_ids"] == [own["id"]]
    assert kinds(world, world.ent_a) == ["proposal_submitted", "proposal_submitted"]

    # The demand's organization, admins and brokers see both, each applicant its own, anyone else none.
    def listed(key):
        return [p["id"] for p in ok(world.client.get(f"{API}/demands/{demand_id}/proposals", headers=key))]
    assert listed(world.ent_a) == [first["id"], second["id"]] == listed(world.admin) == listed(world.broker)
    assert listed(world.uni) == [first["id"]] and listed(world.ent_b) == [second["id"]]
    assert listed(world.reader) == []
    assert world.client.get(f"{API}/proposals/{first['id']}", headers=world.ent_b).status_code == 404

    # The applicant edits its proposal before the deadline; the history keeps old and new.
    ok(world.client.patch(f"{API}/proposals/{first['id']}", json={"budget": 1_600_000}, headers=world.uni))
    ok(post(world, f"/proposals/{first['id']}/shortlist", world.ent_a))
    awarded = ok(post(world, f"/proposals/{first['id']}/award", world.ent_a, {"amount": 1_500_000}))
    assert awarded["status"] == "awarded"
    assert awarded["pledge"]["amount"] == 1_500_000 and awarded["pledge"]["deliverables"] == "低温热管理系统样机一套、测试报告"
    milestones = [(m["number"], m["title"], m["status"]) for m in awarded["milestones"]]
    assert milestones == [(1, "样机试制", "pending"), (2, "整车低温测试", "pending")]
    assert ok(world.client.get(f"{API}/demands/{demand_id}", headers=world.reader))["status"] == "in_progress"
    assert ok(world.client.get(f"{API}/proposals/{second['id']}", headers=world.ent_b))["status"] == "not_selected"
    assert kinds(world, world.uni) == ["proposal_awarded", "proposal_shortlisted"]
    assert kinds(world, world.ent_b) == ["proposal_not_selected"]

    # Milestone 1: reported, returned with a reason, reported again, accepted.
    milestone = f"/proposals/{first['id']}/milestones"
    assert ok(post(world, f"{milestone}/1/report", world.uni, {"report": "样机完成"}))["status"] == "reported"
    assert kinds(world, world.ent_a).count("milestone_reported") == 1
    returned = ok(post(world, f"{milestone}/1/return", world.ent_a, {"reason": "缺少-20℃数据"}))
    assert returned["status"] == "returned" and returned["return_reason"] == "缺少-20℃数据"
    assert "milestone_returned" in kinds(world, world.uni)
    ok(post(world, f"{milestone}/1/report", world.uni, {"report": "补充了-20℃数据"}))
    assert ok(post(world, f"{milestone}/1/accept", world.ent_a))["status"] == "accepted"
    conflict(post(world, f"/demands/{demand_id}/complete", world.ent_a), "milestone(s) 2 not accepted")
    ok(post(world, f"{milestone}/2/report", world.uni, {"report": "整车测试通过"}))
    ok(post(world, f"{milestone}/2/accept", world.ent_a))
    done = ok(post(world, f"/demands/{demand_id}/complete", world.ent_a, {"reason": "验收通过"}))
    assert done["status"] == "completed"
    assert "demand_completed" in kinds(world, world.uni)

    changes = ok(world.client.get(f"{API}/demands/{demand_id}/history", headers=world.ent_a))
    statuses = [c["changes"]["status"]["new"] for c in changes if c["action"] == "status"]
    assert statuses == ["published", "in_progress", "completed"]
    actions = [c["action"] for c in ok(world.client.get(f"{API}/proposals/{first['id']}/history", headers=world.uni))]
    assert actions == ["create", "update", "status", "status"] + ["milestone"] * 6

    # Notifications are read one by one.
    notification = unread(world, world.ent_b)[0]
    assert ok(post(world, f"/notifications/{notification['id']}/read", world.ent_b))["read_at"]
    assert unread(world, world.ent_b) == []
    assert post(world, f"/notifications/{notification['id']}/read", world.uni).status_code == 404


def _publish_in_progress(world):
    record, _, _ = awarded_call(world)
    return post(world, f"/demands/{record['id']}/publish", world.ent_a), "'in_progress'", "allowed next: completed, failed, terminated"


def _close_in_progress(world):
    record, _, _ = awarded_call(world)
    return post(world, f"/demands/{record['id']}/close", world.ent_a), "'in_progress'", "allowed next: completed, failed, terminated"


def _complete_published(world):
    record = call(world)
    return post(world, f"/demands/{record['id']}/complete", world.ent_a), "'published'", "allowed next: in_progress, closed, withdrawn"


def _fail_completed(world):
    record, winner, _ = awarded_call(world)
    for number in (1, 2):
        ok(post(world, f"/proposals/{winner['id']}/milestones/{number}/report", world.uni, {"report": "完成"}))
        ok(post(world, f"/proposals/{winner['id']}/milestones/{number}/accept", world.ent_a))
    ok(post(world, f"/demands/{record['id']}/complete", world.ent_a))
    return post(world, f"/demands/{record['id']}/fail", world.ent_a, {"reason": "迟到"}), "'completed'", "allowed next: none"


def _award_not_selected(world):
    _, _, loser = awarded_call(world)
    return post(world, f"/proposals/{loser['id']}/award", world.ent_a), "'not_selected'", "allowed next: none"


def _shortlist_withdrawn(world):
    record = call(world)
    proposal = ok(apply(world, record["id"], world.uni), 201)
    ok(post(world, f"/proposals/{proposal['id']}/withdraw", world.uni))
    return post(world, f"/proposals/{proposal['id']}/shortlist", world.ent_a), "'withdrawn'", "allowed next: none"


def _accept_pending_milestone(world):
    _, winner, _ = awarded_call(world)
    return post(world, f"/proposals/{winner['id']}/milestones/1/accept", world.ent_a), "'pending'", "allowed next: reported"


def _decline_accepted_interest(world):
    item = ok(world.client.post(f"{API}/achievements", json=achievement(status="published"), headers=world.uni), 201)
    interest = ok(post(world, f"/achievements/{item['id']}/interests", world.ent_a, {"message": "希望许可", "mode": "licensing"}), 201)
    ok(post(world, f"/interests/{interest['id']}/accept", world.uni))
    return post(world, f"/interests/{interest['id']}/decline", world.uni), "'accepted'", "allowed next: none"


@pytest.mark.parametrize(
    "move",
    [
        _publish_in_progress,
        _close_in_progress,
        _complete_published,
        _fail_completed,
        _award_not_selected,
        _shortlist_withdrawn,
        _accept_pending_milestone,
        _decline_accepted_interest,
    ],
    ids=lambda move: move.__name__.strip("_"),
)
def test_illegal_transitions_answer_409_with_the_allowed_next_states(world, move):
    response, current, allowed = move(world)
    conflict(response, current, allowed)


def test_only_the_right_party_makes_each_move(world):
    record = call(world, qualifications={"text": "", "university_only": True, "institute_only": True})
    path = f"/demands/{record['id']}/proposals"
    forbidden(apply(world, record["id"], world.ent_b))  # an enterprise, the call wants universities or institutes
    forbidden(apply(world, record["id"], world.ent_a))  # its own demand
    forbidden(world.client.post(f"{API}{path}", json=proposal_body(), headers=world.reader))  # a reader key
    others = ok(world.client.post(f"{API}/achievements", json=achievement(), headers=world.ent_b), 201)
    wrong = apply(world, record["id"], world.uni, achievement_ids=[others["id"]])
    assert wrong.status_code == 422 and wrong.json()["detail"][0]["loc"] == ["body", "achievement_ids", 0]

    proposal = ok(apply(world, record["id"], world.uni), 201)
    pid = proposal["id"]
    forbidden(post(world, f"/proposals/{pid}/shortlist", world.uni))  # the applicant does not review itself
    forbidden(post(world, f"/proposals/{pid}/award", world.uni))
    forbidden(post(world, f"/proposals/{pid}/reject", world.uni, {"reason": "自我否定"}))
    forbidden(world.client.patch(f"{API}/proposals/{pid}", json={"budget": 1}, headers=world.ent_a))  # the owner does not edit it
    forbidden(post(world, f"/proposals/{pid}/withdraw", world.ent_a))
    assert post(world, f"/proposals/{pid}/award", world.ent_b).status_code == 404  # not even visible to a third party

    ok(post(world, f"/proposals/{pid}/award", world.admin))  # an admin acts for the demand's owner
    forbidden(post(world, f"/proposals/{pid}/milestones/1/report", world.ent_a, {"report": "代报"}))
    ok(post(world, f"/proposals/{pid}/milestones/1/report", world.uni, {"report": "完成"}))
    forbidden(post(world, f"/proposals/{pid}/milestones/1/accept", world.uni))
    forbidden(post(world, f"/proposals/{pid}/milestones/1/return", world.uni, {"reason": "自我退回"}))
    forbidden(post(world, f"/demands/{record['id']}/complete", world.uni))
    forbidden(post(world, f"/demands/{record['id']}/terminate", world.uni, {"reason": "不干了"}))
    assert post(world, f"/demands/{record['id']}/terminate", world.ent_a, {}).status_code == 422  # a reason is required
    ended = ok(post(world, f"/demands/{record['id']}/terminate", world.ent_a, {"reason": "企业战略调整"}))
    assert ended["status"] == "terminated" and "demand_terminated" in kinds(world, world.uni)


def test_no_new_or_changed_proposals_after_the_application_deadline(world, app):
    record = call(world, application_deadline=TODAY.isoformat())
    proposal = ok(apply(world, record["id"], world.uni), 201)  # the deadline day itself still counts
    app.dependency_overrides[current_date] = lambda: TODAY + timedelta(days=1)
    try:
        conflict(apply(world, record["id"], world.ent_b), "application deadline", TODAY.isoformat())
        conflict(world.client.patch(f"{API}/proposals/{proposal['id']}", json={"budget": 1}, headers=world.uni), "deadline")
        conflict(post(world, f"/proposals/{proposal['id']}/withdraw", world.uni), "deadline")
        # The owner may still decide after the deadline.
        assert ok(post(world, f"/proposals/{proposal['id']}/award", world.ent_a))["status"] == "awarded"
    finally:
        app.dependency_overrides.pop(current_date, None)
    past = world.client.post(f"{API}/demands", json=demand(application_deadline=days(-1)), headers=world.ent_a)
    assert past.status_code == 422 and past.json()["detail"][0]["loc"] == ["body", "application_deadline"]
    late = world.client.post(f"{API}/demands", json=demand(application_deadline=days(20), delivery_deadline=days(10)), headers=world.ent_a)
    assert late.status_code == 422 and late.json()["detail"][0]["loc"] == ["body", "delivery_deadline"]


def test_one_active_proposal_per_organization_and_demand(world):
    record = call(world)
    first = ok(apply(world, record["id"], world.uni), 201)
    conflict(apply(world, record["id"], world.uni), "already has an active proposal", str(first["id"]))
    ok(post(world, f"/proposals/{first['id']}/withdraw", world.uni, {"reason": "方案调整"}))
    again = ok(apply(world, record["id"], world.uni, technical_approach="调整后的方案"), 201)
    assert again["id"] != first["id"]
    assert [p["status"] for p in ok(world.client.get(f"{API}/proposals", headers=world.uni))] == ["submitted", "withdrawn"]


def test_interest_in_an_achievement_is_accepted_or_declined_by_its_owner(world):
    body = achievement(status="published", transfer_modes=["licensing", "transfer"])
    item = ok(world.client.post(f"{API}/achievements", json=body, headers=world.uni), 201)
    path = f"/achievements/{item['id']}/interests"
    not_offered = post(world, path, world.ent_a, {"message": "希望作价入股", "mode": "作价入股"})
    assert not_offered.status_code == 422 and not_offered.json()["detail"][0]["loc"] == ["body", "mode"]
    first = ok(post(world, path, world.ent_a, {"message": "希望获得独占许可", "mode": "技术许可"}), 201)
    assert first["mode"] == "licensing" and first["status"] == "pending"
    conflict(post(world, path, world.ent_a, {"message": "再次表达", "mode": "transfer"}), "still pending")
    assert post(world, path, world.uni, {"message": "自己的", "mode": "transfer"}).status_code == 403
    second = ok(post(world, path, world.ent_b, {"message": "希望转让", "mode": "transfer"}), 201)
    assert kinds(world, world.uni) == ["interest_received", "interest_received"]

    assert [i["id"] for i in ok(world.client.get(f"{API}{path}", headers=world.uni))] == [first["id"], second["id"]]
    assert [i["id"] for i in ok(world.client.get(f"{API}{path}", headers=world.ent_b))] == [second["id"]]
    assert post(world, f"/interests/{first['id']}/accept", world.ent_a).status_code == 403  # not the achievement's owner

    accepted = ok(post(world, f"/interests/{first['id']}/accept", world.uni, {"reply": "欢迎来校洽谈"}))
    assert accepted["status"] == "accepted" and accepted["reply"] == "欢迎来校洽谈"
    assert ok(post(world, f"/interests/{second['id']}/decline", world.uni))["status"] == "declined"
    assert kinds(world, world.ent_a) == ["interest_accepted"] and kinds(world, world.ent_b) == ["interest_declined"]
    history = ok(world.client.get(f"{API}/interests/{first['id']}/history", headers=world.ent_a))
    assert [c["action"] for c in history] == ["create", "status"]


def test_a_broker_reviews_for_the_demand_owner(world):
    record = call(world)
    proposal = ok(apply(world, record["id"], world.uni), 201)
    assert post(world, f"/proposals/{proposal['id']}/shortlist", world.reader).status_code == 404  # not even visible
    assert ok(post(world, f"/proposals/{proposal['id']}/shortlist", world.broker))["status"] == "shortlisted"
    assert "proposal_shortlisted" in kinds(world, world.uni)


@pytest.mark.parametrize("verb", ["close", "withdraw"])
def test_ending_a_demand_without_award_releases_its_proposals(world, verb):
    record = call(world)
    first = ok(apply(world, record["id"], world.uni), 201)
    second = ok(apply(world, record["id"], world.ent_b, lead={"name": "赵工"}), 201)
    ok(post(world, f"/proposals/{first['id']}/withdraw", world.uni))
    ok(post(world, f"/demands/{record['id']}/{verb}", world.ent_a, {"reason": "需求取消"}))
    statuses = {p["id"]: p["status"] for p in ok(world.client.get(f"{API}/demands/{record['id']}/proposals", headers=world.ent_a))}
    assert statuses == {first["id"]: "withdrawn", second["id"]: "not_selected"}
    assert "proposal_not_selected" in kinds(world, world.ent_b)
    assert "proposal_not_selected" not in kinds(world, world.uni)


def test_milestone_due_and_overdue_notices_go_out_once(world, app):
    """The reminder scan, as the service's worker runs it, on the days a real calendar would reach."""
    _, winner, _ = awarded_call(world)  # milestones due in 100 and 200 days
    reminders = MilestoneReminders(app.state.session_factory, app.state.settings)
    lead = app.state.settings.milestone_reminder_days
    def messages(key, kind):
        return [n["message"] for n in unread(world, key) if n["kind"] == kind]

    assert reminders.run_once(TODAY) == 0
    assert reminders.run_once(TODAY + timedelta(days=100 - lead - 1)) == 0  # a day before the reminder is due
    assert reminders.run_once(TODAY + timedelta(days=100 - lead)) == 1
    assert reminders.run_once(TODAY + timedelta(days=100 - lead)) == 0  # the next pass does not repeat it
    [due] = messages(world.uni, "milestone_due")
    assert "里程碑 1「样机试制」" in due and days(100) in due and f"还有 {lead} 天" in due
    assert messages(world.ent_a, "milestone_due") == []  # the owner has nothing to do yet

    # Past its date without a report: both parties hear it once; an accepted milestone is never overdue.
    assert reminders.run_once(TODAY + timedelta(days=101)) == 1
    assert reminders.run_once(TODAY + timedelta(days=102)) == 0
    assert len(messages(world.uni, "milestone_overdue")) == len(messages(world.ent_a, "milestone_overdue")) == 1
    milestones = f"/proposals/{winner['id']}/milestones"
    ok(post(world, f"{milestones}/1/report", world.uni, {"report": "样机完成"}))
    ok(post(world, f"{milestones}/1/accept", world.ent_a))

    # A scan that missed the reminder window sends only the overdue notice.
    assert reminders.run_once(TODAY + timedelta(days=250)) == 1
    assert len(messages(world.uni, "milestone_due")) == 1 and len(messages(world.uni, "milestone_overdue")) == 2
    history = ok(world.client.get(f"{API}/proposals/{winner['id']}", headers=world.uni))["milestones"]
    assert [m["status"] for m in history] == ["accepted", "pending"]

    # Once a demand has ended there is nothing left to remind of.
    ended, _, _ = awarded_call(world)
    ok(post(world, f"/demands/{ended['id']}/terminate", world.ent_a, {"reason": "企业战略调整"}))
    assert reminders.run_once(TODAY + timedelta(days=300)) == 0


def test_two_reminder_workers_at_once_send_each_notice_once(world, app):
    """While one worker's scan holds its milestones (not yet committed), another's scan skips
    them, and after the commit finds them stamped: two worker processes never notify twice."""
    if app.state.engine.dialect.name == "sqlite":
        pytest.skip("SQLite serves one write transaction at a time: the second scan waits for the first")
    awarded_call(world)
    awarded_call(world)  # two milestones due in 100 days
    overdue_day = TODAY + timedelta(days=101)
    lead = app.state.settings.milestone_reminder_days
    with session_scope(app.state.session_factory) as first:
        assert send_due_notices(first, today=overdue_day, lead_days=lead) == 2
        with session_scope(app.state.session_factory) as second:
            assert send_due_notices(second, today=overdue_day, lead_days=lead) == 0
    with session_scope(app.state.session_factory) as third:
        assert send_due_notices(third, today=overdue_day, lead_days=lead) == 0
    overdue = [n for n in unread(world, world.uni) if n["kind"] == "milestone_overdue"]
    assert len(overdue) == 2


def test_a_purge_never_orphans_the_records_that_refer_to_a_demand(world):
    """An admin cannot purge an in-progress demand: its proposals (and anything else) would lose their subject."""
    record, winner, loser = awarded_call(world)
    refused = world.client.delete(f"{API}/demands/{record['id']}", headers=world.admin)
    assert refused.status_code == 409, refused.text
    assert "2 proposals" in refused.json()["detail"][0]["msg"]
    assert ok(world.client.get(f"{API}/demands/{record['id']}", headers=world.admin))["status"] == "in_progress"
    assert ok(world.client.get(f"{API}/proposals/{winner['id']}", headers=world.uni))["status"] == "awarded"
