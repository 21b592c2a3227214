"""Every list filter, sorting and pagination, checked against exactly the expected records."""

from datetime import UTC, datetime, timedelta

import pytest
from payloads import achievement, demand


def publish(world, side, body, owner=None):
    response = world.client.post(f"/api/v1/{side}", json={**body, "status": "published"}, headers=owner or world.ent_a)
    assert response.status_code == 201, response.text
    return response.json()["id"]


def ids(world, side, **params):
    response = world.client.get(f"/api/v1/{side}", params=params, headers=world.reader)
    assert response.status_code == 200, response.text
    return sorted(item["id"] for item in response.json()["items"])


@pytest.fixture
def demands(world):
    return {
        "car_cc": publish(world, "demands", demand(fields=["automotive"], region="220104", reward=1_000_000,
                                                   cooperation_modes=["development"])),
        "chem_jl": publish(world, "demands", demand(title="乙烯裂解炉结焦抑制", description="石化装置乙烯裂解炉管结焦严重",
                                                    fields=["petrochemical"], region="220202", reward=None,
                                                    budget_min=300_000, budget_max=800_000,
                                                    cooperation_modes=["transfer", "licensing"]), world.ent_b),
        "deer_yb": publish(world, "demands", demand(title="梅花鹿茸深加工", description="鹿茸多肽提取工艺",
                                                    fields=["agri_sika_deer", "pharma_health"], region="222401",
                                                    reward=None, negotiable=True, cooperation_modes=["service"]), world.ent_b),
    }


def test_field_filter(world, demands):
    assert ids(world, "demands", field="automotive") == [demands["car_cc"]]
    assert ids(world, "demands", field=["petrochemical", "pharma_health"]) == sorted([demands["chem_jl"], demands["deer_yb"]])
    assert ids(world, "demands", field="梅花鹿") == [demands["deer_yb"]]


def test_region_filter_at_every_level(world, demands):
    assert ids(world, "demands", region="220000") == sorted(demands.values())
    assert ids(world, "demands", region="220100") == [demands["car_cc"]]
    assert ids(world, "demands", region="220104") == [demands["car_cc"]]
    assert ids(world, "demands", region="222400") == [demands["deer_yb"]]
    assert ids(world, "demands", region="210000") == []


def test_mode_filter(world, demands):
    assert ids(world, "demands", mode="licensing") == [demands["chem_jl"]]
    assert ids(world, "demands", mode="技术服务") == [demands["deer_yb"]]


def test_budget_range_overlap(world, demands):
    assert ids(world, "demands", budget_min=900_000) == [demands["car_cc"]]
    assert ids(world, "demands", budget_max=500_000) == [demands["chem_jl"]]
    assert ids(world, "demands", budget_min=500_000, budget_max=1_200_000) == sorted([demands["car_cc"], demands["chem_jl"]])


def test_keyword_search_needs_every_word(world, demands):
    assert ids(world, "demands", q="结焦") == [demands["chem_jl"]]
    assert ids(world, "demands", q="鹿茸 多肽") == [demands["deer_yb"]]
    assert ids(world, "demands", q="鹿茸 乙烯") == []
    assert ids(world, "demands", q="100%") == []


def test_status_and_owner_filters(world, demands):
    world.client.post(f"/api/v1/demands/{demands['deer_yb']}/close", headers=world.ent_b)
    assert ids(world, "demands", status="closed") == [demands["deer_yb"]]
    assert ids(world, "demands", owner_org_id=world.ent_b_id, status="published") == [demands["chem_jl"]]


def test_updated_since(world, demands):
    cutoff = datetime.now(UTC)
    world.client.patch(f"/api/v1/demands/{demands['car_cc']}", json={"title": "改过的标题"}, headers=world.ent_a)
    assert ids(world, "demands", updated_since=cutoff.isoformat()) == [demands["car_cc"]]
    assert ids(world, "demands", updated_since=(cutoff + timedelta(hours=1)).isoformat()) == []


def test_sorting_and_pagination(world, demands):
    pages = [
        world.client.get("/api/v1/demands", params={"sort": "id", "size": 2, "page": page}, headers=world.reader).json()
        for page in (1, 2)
    ]
    assert [p["total"] for p in pages] == [3, 3]
    assert [item["id"] for p in pages for item in p["items"]] == sorted(demands.values())
    assert pages[1]["page"] == 2 and pages[1]["size"] == 2
    newest = world.client.get("/api/v1/demands", params={"sort": "-created_at"}, headers=world.reader).json()
    assert newest["items"][0]["id"] == max(demands.values())


def test_achievement_filters(world):
    lab = publish(world, "achievements", achievement(maturity="lab", price_min=None, price_max=100_000,
                                                     transfer_modes=["transfer"]), world.uni)
    industrial = publish(world, "achievements", achievement(maturity="产业化", price_min=2_000_000, price_max=None,
                                                            fields=["rail"], region="220203"), world.uni)
    assert ids(world, "achievements", maturity="lab") == [lab]
    assert ids(world, "achievements", maturity=["lab", "industrial"]) == sorted([lab, industrial])
    assert ids(world, "achievements", price_max=500_000) == [lab]
    assert ids(world, "achievements", price_min=1_000_000) == [industrial]
    assert ids(world, "achievements", field="rail", region="220200") == [industrial]
    assert ids(world, "achievements", mode="transfer") == [lab]


@pytest.mark.parametrize(
    "params, loc",
    [
        ({"size": 101}, ["query", "size"]),
        ({"page": 0}, ["query", "page"]),
        ({"field": "spaceships"}, ["query", "field", 0]),
        ({"region": "990000"}, ["query", "region"]),
        ({"sort": "password"}, ["query", "sort"]),
        ({"budget_min": 10, "budget_max": 5}, ["query", "budget_max"]),
        ({"maturity": "lab"}, ["query", "maturity"]),
        ({"updated_since": "yesterday"}, ["query", "updated_since"]),
    ],
)
def test_bad_query_parameters_are_named(world, params, loc):
    response = world.client.get("/api/v1/demands", params=params, headers=world.reader)
    assert response.status_code == 422, response.text
    assert response.json()["detail"][0]["loc"] == loc
