"""Every kind of bad input gets a 4xx naming the field, and the database stays exactly as it was."""

from datetime import date, timedelta

import pytest
from conftest import database_fingerprint
from payloads import achievement, demand

YESTERDAY = (date.today() - timedelta(days=2)).isoformat()

BAD_DEMANDS = [
    ({"title": ""}, ["body", "title"]),
    ({"title": "   "}, ["body", "title"]),
    ({"title": "长" * 201}, ["body", "title"]),
    ({"title": 42}, ["body", "title"]),
    ({"description": "字" * 20_001}, ["body", "description"]),
    ({"fields": ["automotive", "warp_drive"]}, ["body", "fields", 1]),
    ({"fields": "automotive"}, ["body", "fields"]),
    ({"deadline": YESTERDAY}, ["body", "deadline"]),
    ({"deadline": "明年"}, ["body", "deadline"]),
    ({"reward": -1}, ["body", "reward"]),
    ({"reward": "两百万"}, ["body", "reward"]),
    ({"budget_min": 900, "budget_max": 100}, ["body", "budget_max"]),
    ({"cooperation_modes": ["赠送"]}, ["body", "cooperation_modes", 0]),
    ({"region": "吉林省/不存在市"}, ["body", "region"]),
    ({"region": "990104"}, ["body", "region"]),
    ({"region": "220004"}, ["body", "region"]),
    ({"contact": {"phone": "call me"}}, ["body", "contact", "phone"]),
    ({"status": "closed"}, ["body", "status"]),
    ({"colour": "red"}, ["body", "colour"]),
]

BAD_ACHIEVEMENTS = [
    ({"abstract": ""}, ["body", "abstract"]),
    ({"patents": ["ZL201710601862.4"]}, ["body", "patents", 0]),
    ({"patents": ["not-a-patent"]}, ["body", "patents", 0]),
    ({"maturity": "almost"}, ["body", "maturity"]),
    ({"trl": 10}, ["body", "trl"]),
    ({"price_min": 10, "price_max": 1}, ["body", "price_max"]),
    ({"team": {"lead": "李", "members": [""]}}, ["body", "team", "members", 0]),
]


def _check_rejected(world, app, method, url, body, loc, headers):
    before = database_fingerprint(app)
    response = world.client.request(method, url, json=body, headers=headers)
    assert 400 <= response.status_code < 500, response.text
    detail = response.json()["detail"]
    assert detail[0]["loc"] == loc, detail
    assert detail[0]["msg"]
    assert database_fingerprint(app) == before


@pytest.mark.parametrize("change, loc", BAD_DEMANDS)
def test_bad_demand_create(world, app, change, loc):
    _check_rejected(world, app, "POST", "/api/v1/demands", demand(**change), loc, world.ent_a)


@pytest.mark.parametrize("change, loc", BAD_ACHIEVEMENTS)
def test_bad_achievement_create(world, app, change, loc):
    _check_rejected(world, app, "POST", "/api/v1/achievements", achievement(**change), loc, world.uni)


@pytest.mark.parametrize("change, loc", BAD_DEMANDS[:-2] + [({"status": "published"}, ["body", "status"])])
def test_bad_demand_update_changes_nothing(world, app, change, loc):
    created = world.client.post("/api/v1/demands", json=demand(status="published"), headers=world.ent_a).json()
    _check_rejected(world, app, "PATCH", f"/api/v1/demands/{created['id']}", change, loc, world.ent_a)


def test_range_check_sees_the_stored_bound(world, app):
    created = world.client.post("/api/v1/achievements", json=achievement(price_min=100, price_max=200), headers=world.uni).json()
    _check_rejected(world, app, "PATCH", f"/api/v1/achievements/{created['id']}", {"price_min": 300}, ["body", "price_max"], world.uni)


def test_malformed_json(world, app):
    before = database_fingerprint(app)
    response = world.client.post(
        "/api/v1/demands", content=b'{"title": "x",', headers={**world.ent_a, "Content-Type": "application/json"}
    )
    assert response.status_code == 422
    assert response.json()["detail"][0]["loc"][0] == "body"
    assert database_fingerprint(app) == before


def test_body_over_the_size_cap(world, app):
    before = database_fingerprint(app)
    huge = demand(description="字" * 19_000, keywords=["词" * 50] * 30, title="大" * 200)
    huge["contact"] = {"name": "x" * 100}
    response = world.client.post("/api/v1/demands", content=b"{" + b" " * 1_100_000 + b"}", headers={
        **world.ent_a, "Content-Type": "application/json"})
    assert response.status_code == 413
    refusal = response.json()["detail"]
    assert "too large" in refusal[0]["msg"] and str(app.state.settings.max_body_bytes) in refusal[0]["msg"]
    chunked = world.client.post("/api/v1/demands", content=iter([b"{" + b" " * 700_000, b" " * 700_000 + b"}"]), headers={
        **world.ent_a, "Content-Type": "application/json"})
    assert chunked.status_code == 413
    assert chunked.json()["detail"] == refusal
    assert database_fingerprint(app) == before
    assert world.client.post("/api/v1/demands", json=huge, headers=world.ent_a).status_code == 201
    assert database_fingerprint(app) != before


HUGE = 99999999999999999999  # above 2**63: SQLite cannot even bind it


@pytest.mark.parametrize(
    "method, path, body, loc",
    [
        # Impossible ids and pages.
        ("get", f"/api/v1/demands/{HUGE}", None, ["path", "record_id"]),
        ("get", f"/api/v1/notifications?page={HUGE}", None, ["query", "page"]),
        ("post", "/api/v1/demands/1/proposals", {"technical_approach": "方案", "achievement_ids": [HUGE]}, ["body", "achievement_ids", 0]),
        ("get", f"/api/v1/achievements?owner_org_id={HUGE}", None, ["query", "owner_org_id"]),
        ("post", f"/api/v1/proposals/1/milestones/{HUGE}/report", {"report": "完成"}, ["path", "number"]),
        # Implausible dates (a 0 would be read as 1970).
        ("get", "/api/v1/stats?to=0", None, ["query", "to"]),
        ("get", "/api/v1/demands?updated_since=0.5", None, ["query", "updated_since"]),
        ("post", "/api/v1/demands", demand(deadline="2300-01-01"), ["body", "deadline"]),
        ("post", "/api/v1/contracts", {"contract_type": "transfer", "amount": 1, "signed_on": "0533-01-01"}, ["body", "signed_on"]),
        ("post", "/api/v1/brokerage/shortlist/1/contacts", {"contact_date": 0, "parties": ["王经理"], "channel": "visit"},
         ["body", "contact_date"]),
    ],
)
def test_impossible_ids_pages_and_dates_are_422_not_500(world, method, path, body, loc):
    before = database_fingerprint(world.client.app)
    response = getattr(world.client, method)(path, headers=world.admin, **({"json": body} if body is not None else {}))
    assert response.status_code == 422, response.text
    assert loc in [error["loc"] for error in response.json()["detail"]]
    assert database_fingerprint(world.client.app) == before


@pytest.mark.parametrize(
    "method, path, body, loc",
    [
        ("post", "/api/v1/achievements", achievement(title="控制字符测试\u0007成果"), ["body", "title"]),
        ("post", "/api/v1/demands", demand(contact={"name": "王\u0085工"}), ["body", "contact", "name"]),
        ("post", "/api/v1/demands", demand(keywords=["低温", "续航\x1b"]), ["body", "keywords", 1]),
        ("get", "/api/v1/demands?q=%07", None, ["query", "q"]),
    ],
)
def test_control_characters_are_refused_where_they_are(world, method, path, body, loc):
    before = database_fingerprint(world.client.app)
    response = getattr(world.client, method)(path, headers=world.uni, **({"json": body} if body is not None else {}))
    assert response.status_code == 422, response.text
    assert response.json()["detail"][0]["loc"] == loc
    assert "U+" in response.json()["detail"][0]["msg"]
    assert database_fingerprint(world.client.app) == before


def test_tabs_and_line_breaks_are_text(world):
    body = achievement(abstract="第一段\r\n第二段\t表格列")
    response = world.client.post("/api/v1/achievements", json=body, headers=world.uni)
    assert response.status_code == 201, response.text
