"""Create, read, update, the life cycle and the history, on both sides and both databases."""

import pytest
from payloads import SIDES, TEXT_FIELD

pytestmark = pytest.mark.parametrize("side", ["demands", "achievements"])


def create(world, side, owner=None, **overrides):
    response = world.client.post(f"/api/v1/{side}", json=SIDES[side](**overrides), headers=owner or world.ent_a)
    assert response.status_code == 201, response.text
    return response.json()


def test_create_returns_the_stored_record(world, side):
    record = create(world, side)
    assert record["status"] == "draft"
    assert record["owner_org_id"] == world.ent_a_id
    assert record["region"] == "220104" or record["region"] == "220102"
    assert record["region_name"].startswith("吉林省/长春市/")
    assert record["created_at"] and record["updated_at"]
    assert record.pop("warnings") == []
    fetched = world.client.get(f"/api/v1/{side}/{record['id']}", headers=world.ent_a).json()
    assert fetched == record


def test_only_title_and_text_are_required(world, side):
    body = {"title": "最小记录", TEXT_FIELD[side]: "只有标题和正文"}
    response = world.client.post(f"/api/v1/{side}", json=body, headers=world.uni)
    assert response.status_code == 201, response.text
    record = response.json()
    assert record["fields"] == [] and record["keywords"] == [] and record["region"] is None


def test_chinese_labels_become_codes(world, side):
    mode_field = "cooperation_modes" if side == "demands" else "transfer_modes"
    record = create(world, side, fields=["汽车及零部件"], **{mode_field: ["技术转让"]}, region="吉林省/长春市/朝阳区")
    assert record["fields"] == ["automotive"]
    assert record[mode_field] == ["transfer"]
    assert record["region"] == "220104"


def test_owner_org_comes_from_the_key_not_the_body(world, side):
    response = world.client.post(f"/api/v1/{side}", json=SIDES[side](owner_org_id=world.ent_b_id), headers=world.ent_a)
    assert response.status_code == 422
    assert response.json()["detail"][0]["loc"] == ["body", "owner_org_id"]


def test_publish_on_create_and_visibility(world, side):
    draft = create(world, side)
    public = create(world, side, status="published", title="已发布的记录")
    assert public["status"] == "published" and public["published_at"]
    # Drafts belong to their owner alone.
    assert world.client.get(f"/api/v1/{side}/{draft['id']}", headers=world.reader).status_code == 404
    assert world.client.get(f"/api/v1/{side}/{draft['id']}", headers=world.ent_b).status_code == 404
    assert world.client.get(f"/api/v1/{side}/{draft['id']}", headers=world.admin).status_code == 200
    listed = world.client.get(f"/api/v1/{side}", headers=world.reader).json()
    assert [item["id"] for item in listed["items"]] == [public["id"]]
    own = world.client.get(f"/api/v1/{side}", headers=world.ent_a).json()
    assert {item["id"] for item in own["items"]} == {draft["id"], public["id"]}


def test_partial_update_keeps_other_fields_and_writes_history(world, side):
    record = create(world, side, status="published")
    response = world.client.patch(
        f"/api/v1/{side}/{record['id']}", json={"title": "新标题", "keywords": ["热泵"]}, headers=world.ent_a
    )
    assert response.status_code == 200, response.text
    updated = response.json()
    assert updated["title"] == "新标题" and updated["keywords"] == ["热泵"]
    assert updated[TEXT_FIELD[side]] == record[TEXT_FIELD[side]]
    assert updated["updated_at"] > record["updated_at"]

    history = world.client.get(f"/api/v1/{side}/{record['id']}/history", headers=world.reader).json()
    assert [h["action"] for h in history] == ["create", "status", "update"]
    change = history[-1]
    assert change["changes"] == {
        "title": {"old": record["title"], "new": "新标题"},
        "keywords": {"old": record["keywords"], "new": ["热泵"]},
    }
    assert change["actor_org_id"] == world.ent_a_id


def test_null_clears_optional_fields_but_not_required_ones(world, side):
    record = create(world, side)
    cleared = world.client.patch(f"/api/v1/{side}/{record['id']}", json={"region": None}, headers=world.ent_a)
    assert cleared.status_code == 200 and cleared.json()["region"] is None
    refused = world.client.patch(f"/api/v1/{side}/{record['id']}", json={"title": None}, headers=world.ent_a)
    assert refused.status_code == 422
    assert refused.json()["detail"][0]["loc"] == ["body", "title"]


def test_life_cycle_transitions(world, side):
    record = create(world, side)
    url = f"/api/v1/{side}/{record['id']}"
    assert world.client.post(f"{url}/close", headers=world.ent_a).status_code == 409
    assert world.client.post(f"{url}/publish", headers=world.ent_a).json()["status"] == "published"
    closed = world.client.post(f"{url}/close", json={"reason": "已找到合作方"}, headers=world.ent_a)
    assert closed.json()["status"] == "closed"
    again = world.client.post(f"{url}/publish", headers=world.ent_a)
    assert again.status_code == 409
    assert "closed" in again.json()["detail"][0]["msg"]
    assert world.client.patch(url, json={"title": "改不了"}, headers=world.ent_a).status_code == 409
    history = world.client.get(f"{url}/history", headers=world.ent_a).json()
    assert history[-1]["changes"]["reason"] == "已找到合作方"


def test_withdrawn_records_leave_public_lists(world, side):
    record = create(world, side, status="published")
    url = f"/api/v1/{side}/{record['id']}"
    assert world.client.post(f"{url}/withdraw", headers=world.ent_a).json()["status"] == "withdrawn"
    assert world.client.get(url, headers=world.reader).status_code == 404
    assert world.client.get(f"/api/v1/{side}", headers=world.reader).json()["total"] == 0
    assert world.client.get(url, headers=world.ent_a).json()["status"] == "withdrawn"


def test_delete_drafts_only_and_admin_purge_keeps_history(world, side):
    draft = create(world, side)
    public = create(world, side, status="published")
    assert world.client.delete(f"/api/v1/{side}/{draft['id']}", headers=world.ent_a).status_code == 204
    refused = world.client.delete(f"/api/v1/{side}/{public['id']}", headers=world.ent_a)
    assert refused.status_code == 409 and "withdraw" in refused.json()["detail"][0]["msg"]
    assert world.client.delete(f"/api/v1/{side}/{public['id']}", headers=world.admin).status_code == 204
    assert world.client.get(f"/api/v1/{side}/{public['id']}", headers=world.admin).status_code == 404
    history = world.client.get(f"/api/v1/{side}/{public['id']}/history", headers=world.admin)
    assert history.status_code == 200 and history.json()[-1]["action"] == "purge"
    assert history.json()[-1]["changes"]["title"] == public["title"]
    assert world.client.get(f"/api/v1/{side}/{public['id']}/history", headers=world.ent_a).status_code == 404


def test_ownership(world, side):
    record = create(world, side, status="published")
    url = f"/api/v1/{side}/{record['id']}"
    assert world.client.patch(url, json={"title": "x"}, headers=world.ent_b).status_code == 403
    assert world.client.post(f"{url}/withdraw", headers=world.ent_b).status_code == 403
    assert world.client.patch(url, json={"title": "x"}, headers=world.reader).status_code == 403
    assert world.client.patch(url, json={"title": "x"}, headers=world.broker).status_code == 403
    assert world.client.post(f"/api/v1/{side}", json=SIDES[side](), headers=world.reader).status_code == 403
    assert world.client.patch(url, json={"title": "管理员修改"}, headers=world.admin).status_code == 200
    assert world.client.get(url).status_code == 401
    assert world.client.get(url, headers={"Authorization": "Bearer tm_nope"}).status_code == 401
    assert world.client.get(f"/api/v1/{side}/999999", headers=world.ent_a).status_code == 404


def test_versions_etags_and_if_match(world, side):
    """Every change adds one to `version`; a change sent with a stale If-Match is refused (412) and writes nothing."""
    record = create(world, side)
    assert record["version"] == 1
    url = f"/api/v1/{side}/{record['id']}"
    read = world.client.get(url, headers=world.ent_a)
    assert read.headers["ETag"] == '"1"'

    changed = world.client.patch(url, json={"title": "第一次修改"}, headers={**world.ent_a, "If-Match": '"1"'})
    assert changed.status_code == 200, changed.text
    assert changed.json()["version"] == 2 and changed.headers["ETag"] == '"2"'

    stale = world.client.patch(url, json={"title": "基于旧版本的修改"}, headers={**world.ent_a, "If-Match": '"1"'})
    assert stale.status_code == 412, stale.text
    assert stale.headers["ETag"] == '"2"'
    assert stale.json()["detail"][0]["loc"] == ["header", "If-Match"]
    assert world.client.get(url, headers=world.ent_a).json()["title"] == "第一次修改"

    stale_move = world.client.post(f"{url}/publish", headers={**world.ent_a, "If-Match": '"1"'})
    assert stale_move.status_code == 412
    assert world.client.get(url, headers=world.ent_a).json()["status"] == "draft"
    assert world.client.delete(url, headers={**world.ent_a, "If-Match": '"1"'}).status_code == 412

    published = world.client.post(f"{url}/publish", headers={**world.ent_a, "If-Match": 'W/"7", "2"'})
    assert published.status_code == 200 and published.json()["version"] == 3
    unchanged = world.client.patch(url, json={"title": "第一次修改"}, headers={**world.ent_a, "If-Match": "*"})
    assert unchanged.status_code == 200 and unchanged.json()["version"] == 3  # nothing changed, no new version
    history = world.client.get(f"{url}/history", headers=world.ent_a).json()
    assert [entry["action"] for entry in history] == ["create", "update", "status"]


def test_ids_are_never_handed_out_twice(world, side):
    """After the newest record is purged, the next one gets a new id, not the purged one's."""
    purged = create(world, side)
    assert world.client.delete(f"/api/v1/{side}/{purged['id']}", headers=world.admin).status_code == 204
    assert create(world, side)["id"] > purged["id"]
