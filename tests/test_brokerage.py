"""The broker's workspace: the shortlist and its state table, contact records, match feedback and contracts."""

from datetime import date

import pytest
from payloads import achievement, demand

from app.brokerage.status import SHORTLIST

API = "/api/v1"
SHORTLIST_PATH = f"{API}/brokerage/shortlist"


def ok(response, status: int = 200) -> dict:
    assert response.status_code == status, response.text
    return response.json()


def publish(world, side: str, key, **overrides) -> dict:
    body = (demand if side == "demands" else achievement)(status="published", **overrides)
    return ok(world.client.post(f"{API}/{side}", json=body, headers=key), 201)


def suggest(world, demand_id: int, achievement_id: int, key=None, **extra):
    body = {"demand_id": demand_id, "achievement_id": achievement_id, **extra}
    return world.client.post(SHORTLIST_PATH, json=body, headers=key or world.broker)


def move(world, entry_id: int, status: str, key=None):
    body = {"status": status, "reason": "企业暂无预算" if status == "dropped" else ""}
    return world.client.post(f"{SHORTLIST_PATH}/{entry_id}/status", json=body, headers=key or world.broker)


def contract_body(**links) -> dict:
    return {"contract_type": "licensing", "amount": 1_200_000, "signed_on": date.today().isoformat(), **links}


def notified(world, key, kind: str) -> list[dict]:
    items = ok(world.client.get(f"{API}/notifications", headers=key))["items"]
    return [n for n in items if n["kind"] == kind]


def test_a_shortlisted_pair_is_contacted_negotiated_and_signed_as_a_contract(world):
    need = publish(world, "demands", world.ent_a)
    offer = publish(world, "achievements", world.uni)
    entry = ok(suggest(world, need["id"], offer["id"], note="可直接用于冬季车型", match_score=0.83, match_rank=1), 201)
    assert (entry["status"], entry["source"], entry["match_rank"], entry["broker_org_id"]) == ("suggested", "match", 1, world.broker_org_id)
    for owner in (world.ent_a, world.uni):
        [note] = notified(world, owner, "broker_suggestion")
        assert (note["entity_type"], note["entity_id"]) == ("shortlist_entry", entry["id"])
    # One active entry per pair and broker organization; a pair needs two published records.
    assert suggest(world, need["id"], offer["id"]).status_code == 409
    draft = ok(world.client.post(f"{API}/achievements", json=achievement(), headers=world.uni), 201)
    assert suggest(world, need["id"], draft["id"]).status_code == 404
    manual = ok(suggest(world, need["id"], offer["id"], key=world.admin), 201)
    assert manual["source"] == "manual"

    contact = {
        "contact_date": "2026-11-20", "parties": ["长春某汽车零部件有限公司 王经理", "吉林大学 李教授"], "channel": "visit",
        "notes": "初步意向",
    }
    ok(world.client.post(f"{SHORTLIST_PATH}/{entry['id']}/contacts", json=contact, headers=world.broker), 201)
    ok(move(world, entry["id"], "contacted"))
    ok(move(world, entry["id"], "negotiating"))
    contract = ok(
        world.client.post(
            f"{API}/contracts", json=contract_body(shortlist_entry_id=entry["id"], registration_number="2026220100000123"),
            headers=world.broker,
        ),
        201,
    )
    assert (contract["demand_id"], contract["achievement_id"]) == (need["id"], offer["id"])
    signed = ok(world.client.get(f"{SHORTLIST_PATH}/{entry['id']}", headers=world.ent_a))  # the owners read their pairs
    assert signed["status"] == "contract_signed" and [c["channel"] for c in signed["contacts"]] == ["visit"]
    history = ok(world.client.get(f"{SHORTLIST_PATH}/{entry['id']}/history", headers=world.broker))
    statuses = [c["changes"]["status"]["new"] for c in history if c["action"] == "status"]
    assert statuses == ["contacted", "negotiating", "contract_signed"]
    # Signed, the pair may be shortlisted again; the registration number stays unique.
    assert suggest(world, need["id"], offer["id"]).status_code == 201
    again = contract_body(demand_id=need["id"], registration_number="2026220100000123")
    assert world.client.post(f"{API}/contracts", json=again, headers=world.admin).status_code == 409
    assert world.client.post(f"{API}/contracts", json=contract_body(), headers=world.admin).status_code == 422  # no link
    assert [c["id"] for c in ok(world.client.get(f"{API}/contracts", headers=world.reader))] == [contract["id"]]
    listed = ok(world.client.get(SHORTLIST_PATH, params={"status": "contract_signed"}, headers=world.broker))
    assert [e["id"] for e in listed] == [entry["id"]]


def test_match_feedback_is_stored_and_queryable(world):
    need = publish(world, "demands", world.ent_a)
    offers = [publish(world, "achievements", world.uni, title=f"成果{n}") for n in range(2)]
    feedback = f"{API}/brokerage/feedback"
    body = {"demand_id": need["id"], "achievement_id": offers[0]["id"], "useful": True, "match_score": 0.9, "match_rank": 1}
    ok(world.client.post(feedback, json=body, headers=world.broker), 201)
    body = {"demand_id": need["id"], "achievement_id": offers[1]["id"], "useful": False, "reason": "仍处于实验室阶段", "match_rank": 2}
    ok(world.client.post(feedback, json=body, headers=world.broker), 201)
    assert world.client.post(feedback, json={**body, "reason": ""}, headers=world.broker).status_code == 422  # not useful: say why
    assert world.client.post(feedback, json=body, headers=world.ent_a).status_code == 403
    useless = ok(world.client.get(feedback, params={"useful": "false", "demand_id": need["id"]}, headers=world.admin))
    assert [(f["achievement_id"], f["reason"], f["match_rank"]) for f in useless] == [(offers[1]["id"], "仍处于实验室阶段", 2)]
    by_achievement = ok(world.client.get(feedback, params={"achievement_id": offers[0]["id"]}, headers=world.broker))
    assert [(f["useful"], f["match_score"]) for f in by_achievement] == [(True, 0.9)]
    assert world.client.get(feedback, headers=world.reader).status_code == 403


def _entries_in_every_state(world) -> dict[str, int]:
    """One entry per shortlist state, each on its own pair."""
    need = publish(world, "demands", world.ent_a)
    paths = {
        "suggested": [],
        "contacted": ["contacted"],
        "negotiating": ["contacted", "negotiating"],
        "contract_signed": ["contacted", "negotiating"],
        "dropped": ["dropped"],
    }
    entries = {}
    for n, (state, steps) in enumerate(paths.items()):
        offer = publish(world, "achievements", world.uni, title=f"成果{n}")
        entry_id = ok(suggest(world, need["id"], offer["id"]), 201)["id"]
        for step in steps:
            ok(move(world, entry_id, step))
        if state == "contract_signed":
            ok(world.client.post(f"{API}/contracts", json=contract_body(shortlist_entry_id=entry_id), headers=world.broker), 201)
        entries[state] = entry_id
    return entries


def test_every_illegal_shortlist_transition_answers_409(world):
    entries = _entries_in_every_state(world)
    for state, entry_id in entries.items():
        allowed = SHORTLIST.allowed(state)
        for target in SHORTLIST.states:
            if target in allowed and target != "contract_signed":
                continue
            response = move(world, entry_id, target)
            assert response.status_code == 409, (state, target, response.text)
            if target not in allowed:
                assert f"is {state!r}" in response.json()["detail"][0]["msg"]
        if state != "negotiating":  # a contract signs a negotiating pair only
            response = world.client.post(f"{API}/contracts", json=contract_body(shortlist_entry_id=entry_id), headers=world.broker)
            assert response.status_code == 409, (state, response.text)
        current = ok(world.client.get(f"{SHORTLIST_PATH}/{entry_id}", headers=world.broker))["status"]
        assert current == state


@pytest.mark.parametrize("who", ["other_broker", "demand_owner", "achievement_owner"])
def test_only_the_entrys_broker_or_an_admin_moves_it(world, who):
    _, other_broker = world.organization("延边州技术转移中心", "broker_agency", "222401", "broker", broker_scope="province")
    key = {"other_broker": other_broker, "demand_owner": world.ent_a, "achievement_owner": world.uni}[who]
    need = publish(world, "demands", world.ent_a)
    offer = publish(world, "achievements", world.uni)
    entry_id = ok(suggest(world, need["id"], offer["id"]), 201)["id"]
    contact = {"contact_date": "2026-11-20", "parties": ["王经理"], "channel": "phone"}
    for target in ("contacted", "dropped"):
        assert move(world, entry_id, target, key).status_code == 403
    assert world.client.post(f"{SHORTLIST_PATH}/{entry_id}/contacts", json=contact, headers=key).status_code == 403
    ok(move(world, entry_id, "contacted"))
    ok(move(world, entry_id, "negotiating", world.admin))  # admins act for everyone
    assert move(world, entry_id, "dropped", key).status_code == 403
    assert world.client.post(f"{API}/contracts", json=contract_body(shortlist_entry_id=entry_id), headers=key).status_code == 403
    assert suggest(world, need["id"], offer["id"], key=world.ent_a if who == "other_broker" else world.reader).status_code == 403
    assert ok(world.client.get(f"{SHORTLIST_PATH}/{entry_id}", headers=world.broker))["status"] == "negotiating"


def test_contract_on_an_awarded_proposal_is_recorded_by_the_demand_owner(world):
    need = publish(world, "demands", world.ent_a, deliverables="样机一套")
    schedule = [{"title": "样机试制", "due_date": "2099-06-30"}]
    application = {"technical_approach": "热泵耦合", "lead": {"name": "李教授"}, "schedule": schedule}
    proposal = ok(world.client.post(f"{API}/demands/{need['id']}/proposals", json=application, headers=world.uni), 201)
    body = contract_body(proposal_id=proposal["id"], contract_type="development")
    assert world.client.post(f"{API}/contracts", json=body, headers=world.ent_a).status_code == 409  # not awarded yet
    ok(world.client.post(f"{API}/proposals/{proposal['id']}/award", json={"amount": 900_000}, headers=world.ent_a))
    for key in (world.uni, world.broker, world.reader):
        assert world.client.post(f"{API}/contracts", json=body, headers=key).status_code in (403, 404)
    contract = ok(world.client.post(f"{API}/contracts", json=body, headers=world.ent_a), 201)
    assert (contract["demand_id"], contract["proposal_id"], contract["contract_type"]) == (need["id"], proposal["id"], "development")
    assert world.client.post(f"{API}/contracts", json=body, headers=world.ent_a).status_code == 409  # one per proposal
    assert ok(world.client.get(f"{API}/contracts/{contract['id']}", headers=world.uni))["amount"] == 1_200_000
    assert world.client.get(f"{API}/contracts/{contract['id']}", headers=world.ent_b).status_code == 404


def test_an_agency_broker_acts_only_for_the_organizations_assigned_to_it(world):
    agency_id, agency = world.organization("长春某技术经纪事务所", "broker_agency", "220102", "broker")  # scope: assigned
    need = publish(world, "demands", world.ent_a)
    other_need = publish(world, "demands", world.ent_b)
    offer = publish(world, "achievements", world.uni)
    plan = {"technical_approach": "热泵耦合", "lead": {"name": "李教授"}, "schedule": [{"title": "样机试制", "due_date": "2099-06-30"}]}
    proposal = ok(world.client.post(f"{API}/demands/{need['id']}/proposals", json=plan, headers=world.uni), 201)
    refused = suggest(world, need["id"], offer["id"], key=agency)
    assert refused.status_code == 403 and f"organization {world.ent_a_id}" in refused.json()["detail"][0]["msg"]
    assert world.client.post(f"{API}/proposals/{proposal['id']}/shortlist", headers=agency).status_code == 404

    # Only admins assign, once per pair, between two existing organizations.
    assignments = f"{API}/brokerage/assignments"
    body = {"broker_org_id": agency_id, "org_id": world.ent_a_id, "note": "2026年度技术经纪服务协议"}
    for key in (agency, world.ent_a, world.broker):
        assert world.client.post(assignments, json=body, headers=key).status_code == 403
    assigned = ok(world.client.post(assignments, json=body, headers=world.admin), 201)
    assert world.client.post(assignments, json=body, headers=world.admin).status_code == 409
    assert world.client.post(assignments, json={**body, "org_id": agency_id}, headers=world.admin).status_code == 422
    missing = world.client.post(assignments, json={**body, "org_id": 10**6}, headers=world.admin)
    assert missing.status_code == 404 and missing.json()["detail"][0]["loc"] == ["body", "org_id"]
    def listed(key):
        return [a["id"] for a in ok(world.client.get(assignments, headers=key))]
    assert listed(agency) == listed(world.ent_a) == listed(world.admin) == [assigned["id"]] and listed(world.ent_b) == []

    # Now it pairs enterprise A's records and reviews its proposals, but not enterprise B's.
    entry = ok(suggest(world, need["id"], offer["id"], key=agency), 201)
    assert suggest(world, other_need["id"], offer["id"], key=agency).status_code == 403
    assert ok(world.client.post(f"{API}/proposals/{proposal['id']}/shortlist", headers=agency))["status"] == "shortlisted"
    assert ok(world.client.get(f"{SHORTLIST_PATH}/{entry['id']}", headers=agency))["broker_org_id"] == agency_id

    # Unassigned, it keeps working its own entries but takes on nothing new for A.
    assert world.client.delete(f"{assignments}/{assigned['id']}", headers=world.ent_a).status_code == 403
    assert world.client.delete(f"{assignments}/{assigned['id']}", headers=world.admin).status_code == 204
    assert world.client.delete(f"{assignments}/{assigned['id']}", headers=world.admin).status_code == 404
    assert suggest(world, need["id"], publish(world, "achievements", world.uni)["id"], key=agency).status_code == 403
    ok(move(world, entry["id"], "contacted", agency))
    ok(move(world, entry["id"], "negotiating", agency))
    own = ok(world.client.post(f"{API}/contracts", json=contract_body(shortlist_entry_id=entry["id"]), headers=agency), 201)
    theirs_id = ok(suggest(world, other_need["id"], offer["id"]), 201)["id"]
    for stage in ("contacted", "negotiating"):
        ok(move(world, theirs_id, stage))
    theirs = ok(world.client.post(f"{API}/contracts", json=contract_body(shortlist_entry_id=theirs_id), headers=world.broker), 201)
    def contracts(key):
        return [c["id"] for c in ok(world.client.get(f"{API}/contracts", headers=key))]
    assert contracts(agency) == [own["id"]] and contracts(world.broker) == [theirs["id"], own["id"]]

    # The broker scope is the admin's to change: province-wide, it pairs anyone's records.
    widen = {"broker_scope": "province"}
    assert world.client.patch(f"{API}/organizations/{agency_id}", json=widen, headers=world.broker).status_code == 403
    assert ok(world.client.patch(f"{API}/organizations/{agency_id}", json=widen, headers=world.admin))["broker_scope"] == "province"
    ok(suggest(world, other_need["id"], offer["id"], key=agency), 201)
