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

    # another organization takes the file as its own new records: the 编号 column, which names
    # the first organization's records, is removed
    job = run(world, side, without_ids(response.content, fmt), f"export.{fmt}", key=world.ent_b)
    assert (job["created"], job["failed"], job["ignored_columns"]) == (2, 0, []), job["errors"]
    records = listed(world, side)
    originals = [r for r in records if r["owner_org_id"] == world.ent_a_id and r["title"] != "不在导出范围"]
    copies = [r for r in records if r["owner_org_id"] == world.ent_b_id]
    def strip(records):
        return [{k: v for k, v in r.items() if k not in VOLATILE} for r in records]
    assert strip(copies) == strip(originals)


def without_ids(content: bytes, fmt: str) -> bytes:
    """The exported file without its first column (编号)."""
    if fmt == "csv":
        table = list(csv.reader(io.StringIO(content.decode("utf-8-sig"))))
        buffer = io.StringIO()
        csv.writer(buffer).writerows(row[1:] for row in table)
        return ("\ufeff" + buffer.getvalue()).encode()
    return edited(content, lambda sheet, columns: sheet.delete_cols(columns["编号"]))


def edited(content: bytes, edit) -> bytes:
    """The .xlsx after `edit(sheet, {header: column number})`, saved again as by Excel."""
    workbook = load_workbook(io.BytesIO(content))
    sheet = workbook.active
    edit(sheet, {cell.value: cell.column for cell in sheet[1]})
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()


def export_xlsx(world, key, **params) -> bytes:
    response = world.client.get("/api/v1/exports/demands", params={"format": "xlsx", "sort": "id", **params}, headers=key)
    assert response.status_code == 200, response.text
    return response.content


def test_edited_export_updates_the_same_records(world):
    kept = publish(world, "demands", world.ent_a, title="低温电池热管理")
    renamed = publish(world, "demands", world.ent_a, title="秸秆综合利用")
    closed = publish(world, "demands", world.ent_a, title="已关闭的榜")
    assert world.client.post(f"/api/v1/demands/{closed['id']}/close", headers=world.ent_a).status_code == 200
    content = export_xlsx(world, world.ent_a)
    sheet = load_workbook(io.BytesIO(content)).active
    deadline = sheet.cell(row=2, column=[c.value for c in sheet[1]].index("截止日期") + 1)
    assert deadline.is_date and deadline.number_format == "yyyy-mm-dd" and deadline.value.date().isoformat() == kept["deadline"]

    def edit(sheet, columns):
        row_of = {sheet.cell(row=r, column=columns["编号"]).value: r for r in range(2, sheet.max_row + 1)}
        sheet.cell(row=row_of[renamed["id"]], column=columns["需求名称"], value="秸秆综合利用（修订）")
        sheet.cell(row=row_of[kept["id"]], column=columns["状态"], value="已验收")

    job = run(world, "demands", edited(content, edit))
    assert (job["created"], job["updated"], job["skipped"], job["failed"]) == (0, 1, 2, 0), job["errors"]
    assert job["ignored_columns"] == []
    assert [(n["row"], n["column"]) for n in job["notes"]] == [(2, "状态")]
    assert job["notes"][0]["reason"].startswith("状态「已验收」未导入：导入不改变记录状态，记录仍为「发布」")
    records = {r["id"]: r for r in listed(world, "demands")}
    assert set(records) == {kept["id"], renamed["id"], closed["id"]}  # no duplicate
    assert records[renamed["id"]]["title"] == "秸秆综合利用（修订）"
    assert records[renamed["id"]]["version"] == renamed["version"] + 1
    assert (records[kept["id"]]["status"], records[kept["id"]]["version"]) == ("published", kept["version"])
    assert records[closed["id"]]["status"] == "closed"
    history = world.client.get(f"/api/v1/demands/{renamed['id']}/history", headers=world.ent_a).json()
    assert history[-1]["action"] == "update"
    assert history[-1]["changes"] == {"title": {"old": "秸秆综合利用", "new": "秸秆综合利用（修订）"}}

    # the same file again: nothing changes
    again = run(world, "demands", edited(content, edit))
    assert (again["updated"], again["skipped"], again["failed"]) == (0, 3, 0), again["errors"]

    # a closed record cannot be edited, by import as by PATCH: a row error, the other rows go on
    def edit_closed(sheet, columns):
        row_of = {sheet.cell(row=r, column=columns["编号"]).value: r for r in range(2, sheet.max_row + 1)}
        sheet.cell(row=row_of[closed["id"]], column=columns["需求名称"], value="改不了")

    job = run(world, "demands", edited(content, edit_closed))
    assert (job["updated"], job["failed"]) == (1, 1)  # the title of `renamed` goes back
    assert job["errors"][0]["column"] == "需求名称"
    assert job["errors"][0]["reason"].startswith("「已关闭」状态的记录不能再修改（title）")


def test_an_id_of_another_organization_or_of_no_record_is_a_row_error(world):
    mine = publish(world, "demands", world.ent_a, title="低温电池热管理")
    content = export_xlsx(world, world.ent_a)

    def edit(sheet, columns):
        sheet.append([999_999] + [c.value for c in sheet[2]][1:])
        sheet.cell(row=3, column=columns["需求名称"], value="编号不存在")

    job = run(world, "demands", edited(content, edit), key=world.ent_b)
    assert (job["created"], job["updated"], job["failed"]) == (0, 0, 2)
    assert [(e["row"], e["column"]) for e in job["errors"]] == [(2, "编号"), (3, "编号")]
    assert job["errors"][0]["reason"].startswith(f"编号 {mine['id']} 是其他单位的记录")
    assert job["errors"][1]["reason"].startswith("编号 999999 没有对应的记录")
    # an admin may correct any organization's record by its 编号; the owner stays
    job = run(world, "demands", edited(content, lambda sheet, columns: sheet.cell(row=2, column=columns["需求名称"], value="更正")),
              key=world.admin)
    assert (job["updated"], job["failed"]) == (1, 0), job["errors"]
    (record,) = listed(world, "demands")
    assert (record["id"], record["title"], record["owner_org_id"]) == (mine["id"], "更正", world.ent_a_id)


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


def test_a_stored_control_character_never_breaks_an_export(world, app):
    """Text stored before control characters were refused is exported without them."""
    from app.achievements.models import Achievement
    from app.database import session_scope

    record = publish(world, "achievements", world.uni, title="控制字符测试成果")
    with session_scope(app.state.session_factory) as session:
        session.get(Achievement, record["id"]).title = "控制字符测试\u0007成果"
    response = world.client.get("/api/v1/exports/achievements", params={"format": "xlsx"}, headers=world.reader)
    assert response.status_code == 200, response.text
    sheet = load_workbook(io.BytesIO(response.content)).active
    assert "控制字符测试成果" in [cell.value for row in sheet.iter_rows() for cell in row]
    year = date.today().year
    annual = world.client.get("/api/v1/exports/annual", params={"side": "achievements", "year": year}, headers=world.admin)
    assert annual.status_code == 200, annual.text


def test_a_passed_deadline_sent_back_unchanged_is_not_an_error(world, app):
    """A demand whose deadline has passed re-imports from its export, and a form may send the date back;
    only setting a deadline in the past is refused."""
    from datetime import timedelta

    from app.database import session_scope
    from app.demands.models import Demand

    record = publish(world, "demands", world.ent_a, title="过期需求")
    passed = date.today() - timedelta(days=30)
    with session_scope(app.state.session_factory) as session:
        session.get(Demand, record["id"]).deadline = passed
    url = f"/api/v1/demands/{record['id']}"
    same = world.client.patch(url, json={"title": "过期需求（更新）", "deadline": passed.isoformat()}, headers=world.ent_a)
    assert same.status_code == 200, same.text
    earlier = world.client.patch(url, json={"deadline": (passed - timedelta(days=1)).isoformat()}, headers=world.ent_a)
    assert earlier.status_code == 422 and earlier.json()["detail"][0]["loc"] == ["body", "deadline"]

    exported = world.client.get("/api/v1/exports/demands", params={"format": "xlsx"}, headers=world.ent_a)
    job = run(world, "demands", exported.content)
    assert job["status"] == "done" and job["failed"] == 0 and job["updated"] + job["skipped"] == 1, job
    assert [r["id"] for r in listed(world, "demands")] == [record["id"]]
