"""Exports: filtered .xlsx/.csv with the importer's headers (a lossless round trip) and the annual lists."""

import csv
import io
from datetime import date

import pytest
from openpyxl import load_workbook
from payloads import SIDES
from test_imports import listed, run

VOLATILE = {"id", "owner_org_id", "created_at", "updated_at", "published_at"}


def publish(world, side, key, **overrides) -> dict:
    response = world.client.post(f"/api/v1/{side}", json=SIDES[side](status="published", **overrides), headers=key)
    assert response.status_code == 201, response.text
    return response.json()


@pytest.mark.parametrize("side, fmt", [("demands", "xlsx"), ("achievements", "csv")])
def test_export_then_import_reproduces_the_records(world, side, fmt):
    publish(world, side, world.ent_a, title="低温电池热管理", keywords=["热管理", "低温"], negotiable=True,
            contact={"name": "王工", "phone": "0431-85100000", "email": "wang@example.cn"})
    if side == "demands":
        publish(world, side, world.ent_a, title="秸秆综合利用", fields=["agri_corn_straw"], reward=None,
                budget_min=125_000, budget_max=3_000_000, region="222401", cooperation_modes=["transfer", "equity"])
    else:
        publish(world, side, world.ent_a, title="秸秆综合利用", fields=["agri_corn_straw"], maturity="lab", trl=None,
                patents=[], price_min=None, price_max=12_345, region="110101", team={"lead": "", "members": ["甲", "乙"]})
    publish(world, side, world.ent_a, title="不在导出范围", fields=["rail"])
    response = world.client.get(
        f"/api/v1/exports/{side}", params={"format": fmt, "field": ["new_energy", "agri_corn_straw"], "sort": "id"}, headers=world.ent_a
    )
    assert response.status_code == 200, response.text
    if fmt == "xlsx":
        sheet = load_workbook(io.BytesIO(response.content)).active
        assert sheet.freeze_panes == "A2" and sheet["B1"].font.bold
        assert [c.value for c in sheet[1]][:3] == ["编号", "原系统编号", "需求名称"]
        assert sheet.max_row == 3
    else:
        assert response.content.startswith(b"\xef\xbb\xbf")
        table = list(csv.reader(io.StringIO(response.content.decode("utf-8-sig"))))
        assert table[0][:3] == ["编号", "原系统编号", "成果名称"] and len(table) == 3

    job = run(world, side, response.content, f"export.{fmt}", key=world.ent_b)
    assert (job["created"], job["failed"], job["ignored_columns"]) == (2, 0, ["编号"]), job["errors"]
    records = listed(world, side)
    originals = [r for r in records if r["owner_org_id"] == world.ent_a_id and r["title"] != "不在导出范围"]
    copies = [r for r in records if r["owner_org_id"] == world.ent_b_id]
    strip = lambda records: [{k: v for k, v in r.items() if k not in VOLATILE} for r in records]
    assert strip(copies) == strip(originals)


def test_annual_list_groups_by_field_orders_and_totals(world):
    year = date.today().year
    publish(world, "demands", world.ent_a, title="小榜", fields=["automotive"], reward=100_000)
    publish(world, "demands", world.ent_a, title="大榜", fields=["automotive", "new_energy"], reward=5_000_000)
    publish(world, "demands", world.ent_b, title="化工榜", fields=["petrochemical"], reward=None, region="220202")
    draft = world.client.post("/api/v1/demands", json=SIDES["demands"](title="草稿不列入"), headers=world.ent_a)
    assert draft.status_code == 201
    response = world.client.get("/api/v1/exports/annual", params={"side": "demands", "year": year}, headers=world.reader)
    assert response.status_code == 200, response.text
    workbook = load_workbook(io.BytesIO(response.content))
    assert workbook.sheetnames == ["汇总", "清单"]
    rows = list(workbook["清单"].iter_rows(min_row=2, values_only=True))
    assert [(r[1], r[4]) for r in rows] == [("汽车及零部件", "大榜"), ("汽车及零部件", "小榜"), ("石化/化工", "化工榜")]
    cover = {r[0]: r[1:] for r in workbook["汇总"].iter_rows(values_only=True) if r and r[0]}
    assert cover["汽车及零部件"][:2] == (2, 510) and cover["石化/化工"][0] == 1
    assert cover["长春市"][0] == 2 and cover["吉林市"][0] == 1
    empty = world.client.get("/api/v1/exports/annual", params={"side": "achievements", "year": year - 5}, headers=world.reader)
    assert load_workbook(io.BytesIO(empty.content))["清单"].max_row == 1


def test_xlsx_export_drops_control_characters_a_worksheet_cannot_hold(world):
    """A stored text with a control character (accepted on input) used to make the .xlsx export a 500."""
    publish(world, "demands", world.ent_a, title="低温\x1b电池热管理", keywords=["热\x07管理"])
    response = world.client.get("/api/v1/exports/demands", params={"format": "xlsx"}, headers=world.ent_a)
    assert response.status_code == 200, response.text
    row = [c.value for c in load_workbook(io.BytesIO(response.content)).active[2]]
    assert "低温电池热管理" in row and any("热管理" in str(v) for v in row)
