"""Regions: the 吉林省 division table (GB/T 2260) and name paths, including 开发区 short names."""

import pytest
from test_imports import DEMAND_HEADER, demand_row, listed, run, xlsx

from app.catalog.regions import DIVISIONS_FILE, NAMES, Region, parse_region


def test_the_table_is_whole_and_every_official_name_path_parses_back():
    cities = {code for code in NAMES if len(code) == 4}
    counties = {code for code in NAMES if len(code) == 6}
    assert len(cities) == 9 and len(counties) == 69
    assert {code[:4] for code in counties} == cities  # every county under a listed city, every city has counties
    for code in counties | {c + "00" for c in cities}:
        region = Region(code)
        assert parse_region(region.name).code == code, region.name
    assert "# " in DIVISIONS_FILE.read_text(encoding="utf-8").splitlines()[0]  # its source, in the header


@pytest.mark.parametrize(
    "text, code",
    [
        ("吉林省/长春市/净月区", "220172"),
        ("吉林省/长春市/长春净月高新技术产业开发区", "220172"),
        ("吉林/长春/净月", "220172"),
        ("吉林省/长春市/汽开区", "220174"),
        ("吉林省/长春市/公主岭市", "220184"),
        ("吉林省/吉林市/高新区", "220272"),
        ("吉林省/延边州/珲春市", "222404"),
        ("吉林省/延边朝鲜族自治州/安图县", "222426"),
        ("吉林省/松原市/前郭县", "220721"),
        ("吉林省/白山市/长白朝鲜族自治县", "220623"),
        ("吉林省/白城市", "220800"),
        ("220582", "220582"),
    ],
)
def test_jilin_counties_and_development_zones_parse(text, code):
    assert parse_region(text).code == code


def test_short_names_are_looked_up_within_their_city_only():
    with pytest.raises(ValueError, match="unknown place '净月区'"):
        parse_region("吉林省/吉林市/净月区")
    with pytest.raises(ValueError, match="unknown place '朝阳区'"):
        parse_region("吉林省/四平市/朝阳区")


def test_an_imported_row_in_jingyue_is_placed_there_and_exported_by_its_full_name(world):
    job = run(world, "demands", xlsx([DEMAND_HEADER, demand_row(1, **{"所在地区": "吉林省/长春市/净月区"})]))
    assert (job["created"], job["failed"]) == (1, 0), job["errors"]
    (record,) = listed(world, "demands")
    assert (record["region"], record["region_name"]) == ("220172", "吉林省/长春市/长春净月高新技术产业开发区")
    in_changchun = world.client.get("/api/v1/demands", params={"region": "220100"}, headers=world.ent_a).json()
    assert in_changchun["total"] == 1
