"""Organizations, API keys and roles."""

from conftest import database_fingerprint


def test_admin_registers_organizations_others_cannot(world):
    body = {"name": "长春光机所", "kind": "institute", "credit_code": "91350100M000100Y43", "region": "220104"}
    assert world.client.post("/api/v1/organizations", json=body, headers=world.ent_a).status_code == 403
    created = world.client.post("/api/v1/organizations", json=body, headers=world.admin)
    assert created.status_code == 201, created.text
    assert created.json()["region_name"] == "吉林省/长春市/朝阳区"
    duplicate = world.client.post("/api/v1/organizations", json={**body, "name": "另一个"}, headers=world.admin)
    assert duplicate.status_code == 409
    assert duplicate.json()["detail"][0]["loc"] == ["body", "credit_code"]


def test_credit_code_check_digit(world, app):
    before = database_fingerprint(app)
    body = {"name": "某公司", "kind": "enterprise", "credit_code": "91350100M000100Y44"}
    response = world.client.post("/api/v1/organizations", json=body, headers=world.admin)
    assert response.status_code == 422
    assert response.json()["detail"][0]["loc"] == ["body", "credit_code"]
    assert "check digit" in response.json()["detail"][0]["msg"]
    bad_kind = world.client.post("/api/v1/organizations", json={**body, "kind": "club", "credit_code": None}, headers=world.admin)
    assert bad_kind.json()["detail"][0]["loc"] == ["body", "kind"]
    assert database_fingerprint(app) == before


def test_list_organizations_by_kind_and_region(world):
    listed = world.client.get("/api/v1/organizations", params={"region": "220100"}, headers=world.reader).json()
    assert {o["id"] for o in listed["items"]} == {world.ent_a_id, world.uni_id, world.broker_org_id}
    enterprises = world.client.get("/api/v1/organizations", params={"kind": "enterprise"}, headers=world.reader).json()
    assert {o["id"] for o in enterprises["items"]} == {world.ent_a_id, world.ent_b_id}


def test_owner_edits_own_profile_only(world):
    mine = world.client.patch(f"/api/v1/organizations/{world.ent_a_id}", json={"contact": {"name": "李经理"}}, headers=world.ent_a)
    assert mine.status_code == 200 and mine.json()["contact"]["name"] == "李经理"
    other = world.client.patch(f"/api/v1/organizations/{world.ent_b_id}", json={"name": "x"}, headers=world.ent_a)
    assert other.status_code == 403
    assert world.client.get("/api/v1/organizations/99999", headers=world.ent_a).status_code == 404


def test_keys_are_shown_once_and_revocable(world):
    issued = world.client.post(
        f"/api/v1/organizations/{world.ent_a_id}/keys", json={"role": "reader", "label": "门户"}, headers=world.ent_a
    )
    assert issued.status_code == 201
    key = issued.json()["key"]
    listed = world.client.get(f"/api/v1/organizations/{world.ent_a_id}/keys", headers=world.ent_a).json()
    assert all("key" not in row for row in listed)
    assert any(row["prefix"] == key[:10] for row in listed)
    headers = {"Authorization": f"Bearer {key}"}
    assert world.client.get("/api/v1/me", headers=headers).json()["role"] == "reader"
    assert world.client.delete(f"/api/v1/keys/{issued.json()['id']}", headers=world.ent_b).status_code == 403
    assert world.client.delete(f"/api/v1/keys/{issued.json()['id']}", headers=world.ent_a).status_code == 200
    revoked = world.client.get("/api/v1/me", headers=headers)
    assert revoked.status_code == 401 and revoked.headers["WWW-Authenticate"] == "Bearer"


def test_who_may_issue_which_key(world):
    url = f"/api/v1/organizations/{world.ent_a_id}/keys"
    assert world.client.post(url, json={"role": "admin"}, headers=world.ent_a).status_code == 403
    assert world.client.post(url, json={"role": "owner"}, headers=world.ent_b).status_code == 403
    assert world.client.post(url, json={"role": "owner"}, headers=world.reader).status_code == 403
    assert world.client.post(url, json={"role": "superuser"}, headers=world.admin).status_code == 422
    assert world.client.post(url, json={"role": "broker"}, headers=world.admin).status_code == 201


def test_missing_and_malformed_keys(world):
    assert world.client.get("/api/v1/demands").json()["detail"][0]["loc"] == ["header", "Authorization"]
    assert world.client.get("/api/v1/demands", headers={"Authorization": "Basic abc"}).status_code == 401
    assert world.client.get("/api/v1/codes").status_code == 200
    assert world.client.get("/api/v1/health").json()["status"] == "ok"


def test_kinds_may_be_sent_as_their_chinese_labels(world):
    response = world.client.post("/api/v1/organizations", json={"name": "长春某科技有限公司", "kind": "企业"}, headers=world.admin)
    assert response.status_code == 201, response.text
    assert response.json()["kind"] == "enterprise"
