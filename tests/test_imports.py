"""Bulk import: real .xlsx files and a GBK CSV, row errors, the three modes, idempotency, crash recovery."""

import io
import os
import subprocess
import sys
import time
import zipfile
from datetime import date, timedelta

import pytest
from conftest import database_fingerprint
from openpyxl import Workbook, load_workbook

from app.auth import Principal
from app.database import session_scope
from app.imports import service as imports
from app.imports.models import ImportFile, ImportJob

FUTURE = (date.today() + timedelta(days=90)).isoformat()
DEMAND_HEADER = [
    "原系统编号", "需求名称", "需求描述", "所属领域", "所在地区", "榜额(万元)", "截止日期", "联系人", "联系电话", "合作方式", "关键词",
]
ACHIEVEMENT_HEADER = [
    "原系统编号", "成果名称", "成果简介", "所属领域", "成熟度", "专利号", "转化方式", "完成单位", "价格(万元)", "团队负责人",
]


def demand_row(n: int, **changes) -> list:
    row = {
        "原系统编号": f"D-{n}", "需求名称": f"冬季续航衰减问题{n}", "需求描述": f"纯电动乘用车低温续航衰减，需要电池热管理方案{n}。",
        "所属领域": "汽车及零部件；新能源/氢能", "所在地区": "吉林省/长春市/朝阳区", "榜额(万元)": 200, "截止日期": FUTURE,
        "联系人": "王工", "联系电话": "0431-85100000", "合作方式": "技术开发、合作开发", "关键词": "续航衰减 低温",
    }
    row.update(changes)
    return [row[h] for h in DEMAND_HEADER]


def xlsx(rows: list[list], *, banner: str | None = None, merge: list[str] = (), cached: dict[str, str] | None = None) -> bytes:
    """An .xlsx as an office would send it; `cached` gives formula cells the value Excel would have saved."""
    workbook = Workbook()
    sheet = workbook.active
    if banner:
        sheet.append([banner])
        sheet.merge_cells(start_row=1, start_column=1, end_row=1, end_column=len(rows[0]))
    for row in rows:
        sheet.append(row)
    for cells in merge:
        sheet.merge_cells(cells)
    sheet.append([None] * len(rows[0]))  # empty trailing rows with formatting, as offices leave them
    sheet.cell(row=sheet.max_row + 3, column=2).number_format = "0.00"
    buffer = io.BytesIO()
    workbook.save(buffer)
    data = buffer.getvalue()
    if cached:  # openpyxl saves formulas without results; add them as Excel does
        source = zipfile.ZipFile(io.BytesIO(data))
        out = io.BytesIO()
        with zipfile.ZipFile(out, "w") as target:
            for item in source.infolist():
                content = source.read(item.filename)
                if item.filename == "xl/worksheets/sheet1.xml":
                    text = content.decode()
                    for ref, value in cached.items():
                        text = text.replace(f'<c r="{ref}"><f>', f'<c r="{ref}" t="n"><f>', 1)
                        start = text.index(f'<c r="{ref}"')
                        end = text.index("</c>", start)
                        text = text[:start] + text[start:end].replace("<v></v>", "").replace("<v />", "") + f"<v>{value}</v>" + text[end:]
                    content = text.encode()
                target.writestr(item, content)
        data = out.getvalue()
    return data


def upload(world, side: str, content: bytes, filename: str = "list.xlsx", key=None, **params):
    response = world.client.post(
        "/api/v1/imports", files={"file": (filename, content)}, data={"side": side, **params}, headers=key or world.ent_a
    )
    return response


def run(world, side: str, content: bytes, filename: str = "list.xlsx", key=None, **params) -> dict:
    """Upload and wait (bounded) for the background job to finish."""
    response = upload(world, side, content, filename, key, **params)
    assert response.status_code == 202, response.text
    job_id = response.json()["id"]
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        job = world.client.get(f"/api/v1/imports/{job_id}", headers=key or world.ent_a).json()
        if job["status"] in ("done", "failed"):
            return job
        time.sleep(0.1)
    raise AssertionError(f"import {job_id} did not finish: {job}")


def listed(world, side: str, key=None) -> list[dict]:
    return world.client.get(f"/api/v1/{side}", params={"size": 100, "sort": "id"}, headers=key or world.ent_a).json()["items"]


def without_jobs(fingerprint: dict) -> dict:
    return {table: rows for table, rows in fingerprint.items() if table != "import_jobs"}


def test_every_bad_row_kind_names_its_row_and_column(world):
    rows = [
        DEMAND_HEADER,
        demand_row(1, **{"榜额(万元)": None}),  # row 3: 榜额 from a formula (=100*2)
        demand_row(2, **{"所属领域": "汽车及零部件；不存在的领域"}),  # row 4
        demand_row(3, **{"榜额(万元)": "两百"}),  # row 5
        demand_row(4, **{"截止日期": "2020-01-01"}),  # row 6
        demand_row(5, **{"联系电话": "电话号码"}),  # row 7
        demand_row(6, **{"需求名称": "长" * 201}),  # row 8: over the field cap
        demand_row(7, **{"需求描述": None}),  # row 9
        demand_row(1, **{"需求名称": "编号重复"}),  # row 10: D-1 again
        demand_row(9, **{"所在地区": "火星省"}),  # row 11
        demand_row(10, **{"所属领域": None}),  # rows 12–13: 所属领域 merged over both
        demand_row(11, **{"所属领域": None}),
    ]
    rows[-2][3] = "现代农业"
    rows[1][5] = "=100*2"
    content = xlsx(rows, banner="2026年技术需求清单", merge=["D12:D13"], cached={"F3": "200"})
    job = run(world, "demands", content)
    assert job["status"] == "done" and job["total_rows"] == 11 and job["processed_rows"] == 11
    found = {(e["row"], e["column"]) for e in job["errors"]}
    assert found == {
        (4, "所属领域"), (5, "榜额(万元)"), (6, "截止日期"), (7, "联系电话"), (8, "需求名称"), (9, "需求描述"),
        (10, "原系统编号"), (11, "所在地区"),
    }, job["errors"]
    assert (job["created"], job["failed"]) == (3, 8)
    # reasons in Chinese first, the API's English after
    reasons = {e["column"]: e["reason"] for e in job["errors"]}
    assert reasons["需求描述"] == "必填项缺失 / Field required"
    assert reasons["需求名称"].startswith("内容过长（最多 200 个字符） / String should have at most 200 characters")
    assert reasons["榜额(万元)"] == "不是数字 / '两百' is not a number"
    assert reasons["所属领域"].startswith("取值无效 / unknown field code '不存在的领域'")
    assert reasons["原系统编号"] == "原系统编号 D-1 在第 3 行已出现 / 原系统编号 'D-1' already used on row 3"
    records = {r["title"]: r for r in listed(world, "demands")}
    assert records["冬季续航衰减问题1"]["reward"] == 2_000_000  # the formula's value, in yuan
    assert records["冬季续航衰减问题1"]["status"] == "published"
    assert records["冬季续航衰减问题1"]["fields"] == ["automotive", "new_energy"]
    assert records["冬季续航衰减问题1"]["cooperation_modes"] == ["development", "joint_development"]
    assert records["冬季续航衰减问题1"]["keywords"] == ["续航衰减", "低温"]
    assert records["冬季续航衰减问题11"]["fields"] == ["agriculture"]  # from the merged cell above
    # the importing key's organization owns the rows, and the history says they were created
    assert {r["owner_org_id"] for r in records.values()} == {world.ent_a_id}
    history = world.client.get(f"/api/v1/demands/{records['冬季续航衰减问题1']['id']}/history", headers=world.ent_a).json()
    assert [h["action"] for h in history] == ["create", "status"]


def test_unusable_uploads_are_refused_at_once(world, app, monkeypatch):
    assert upload(world, "demands", b"x", "list.pdf").status_code == 422
    assert upload(world, "demands", b"not a zip", "list.xlsx").status_code == 422
    no_title = xlsx([["所属领域", "关键词"], ["现代农业", "玉米"]])
    response = upload(world, "demands", no_title)
    assert response.status_code == 422 and "title" in response.text
    assert upload(world, "demands", xlsx([DEMAND_HEADER, demand_row(1)]), key=world.broker).status_code == 403
    monkeypatch.setattr(app.state.settings, "import_max_rows", 1)
    job = run(world, "demands", xlsx([DEMAND_HEADER, demand_row(1), demand_row(2)]))
    assert (job["status"], job["created"]) == ("failed", 0) and "at most 1 rows" in job["message"]
    monkeypatch.setattr(app.state.settings, "import_max_bytes", 1000)
    assert upload(world, "demands", b"x" * 5000, "big.csv").status_code == 413


def test_gbk_csv_dry_run_writes_nothing_and_commit_imports(world, app):
    lines = [
        ",".join(ACHIEVEMENT_HEADER),
        'A-1,动力电池低温热管理技术,研制了脉冲自加热与热泵耦合的电池热管理系统。,新能源/氢能,中试,"ZL201710601862.3",技术许可；技术开发,吉林大学,50-150,李教授',
        "A-2,玉米秸秆还田技术,秸秆粉碎深翻还田的成套技术与装备。,玉米/秸秆,产业化,,技术转让,吉林农业大学,80,王教授",
        "A-3,坏的成果,简介,,成熟得很,,,,,",
    ]
    content = ("\r\n".join(lines) + "\r\n").encode("gbk")
    before = database_fingerprint(app)
    job = run(world, "achievements", content, "成果.csv", key=world.uni, mode="dry_run")
    assert (job["status"], job["created"], job["failed"]) == ("done", 2, 1)
    assert [(error["row"], error["column"]) for error in job["errors"]] == [(4, "成熟度")]
    assert job["errors"][0]["reason"].startswith("取值无效 / unknown maturity '成熟得很'")
    assert without_jobs(database_fingerprint(app)) == without_jobs(before)

    job = run(world, "achievements", content, "成果.csv", key=world.uni, mode="commit")
    assert (job["created"], job["failed"]) == (2, 1)
    first, second = listed(world, "achievements", world.uni)
    assert first["maturity"] == "pilot" and first["patents"] == ["ZL201710601862.3"]
    assert (first["price_min"], first["price_max"]) == (500_000, 1_500_000)
    assert first["team"]["lead"] == "李教授" and first["transfer_modes"] == ["licensing", "development"]
    assert (second["price_min"], second["price_max"], second["fields"]) == (800_000, 800_000, ["agri_corn_straw"])


def test_all_or_nothing_imports_nothing_when_a_row_is_bad(world, app):
    content = xlsx([DEMAND_HEADER, demand_row(1), demand_row(2, **{"截止日期": "明年"}), demand_row(3)])
    before = database_fingerprint(app)
    job = run(world, "demands", content, all_or_nothing="true")
    assert job["status"] == "failed" and "nothing imported" in job["message"]
    assert (job["created"], job["failed"]) == (0, 1)
    assert job["errors"][0]["row"] == 3 and job["errors"][0]["column"] == "截止日期"
    assert without_jobs(database_fingerprint(app)) == without_jobs(before)

    job = run(world, "demands", xlsx([DEMAND_HEADER, demand_row(1), demand_row(3)]), all_or_nothing="true")
    assert (job["status"], job["created"]) == ("done", 2)


def test_reimport_updates_instead_of_duplicating(world):
    rows = [DEMAND_HEADER, demand_row(1), demand_row(2), demand_row(3)]
    assert run(world, "demands", xlsx(rows))["created"] == 3
    again = run(world, "demands", xlsx(rows))
    assert (again["created"], again["updated"], again["skipped"]) == (0, 0, 3)
    rows[2] = demand_row(2, **{"榜额(万元)": 350})
    changed = run(world, "demands", xlsx(rows))
    assert (changed["created"], changed["updated"], changed["skipped"]) == (0, 1, 2)
    records = listed(world, "demands")
    assert len(records) == 3 and records[1]["reward"] == 3_500_000
    history = world.client.get(f"/api/v1/demands/{records[1]['id']}/history", headers=world.ent_a).json()
    assert history[-1]["action"] == "update" and history[-1]["changes"]["reward"] == {"old": 2_000_000, "new": 3_500_000}
    # the same codes from another organization are that organization's own records
    assert run(world, "demands", xlsx(rows), key=world.ent_b)["created"] == 3


class SimulatedCrash(BaseException):
    """Stands for the process dying: nothing after it runs, no handler sees it."""


def queued_job(world, app, owner: str, lease_seconds: float = 5):
    """A five-row demand import leased to `owner` (not started), with two rows per chunk: (factory, settings, job).

    Leased from the start, so the service's own import runner leaves it alone until the lease runs out."""
    content = xlsx([DEMAND_HEADER] + [demand_row(n) for n in range(1, 6)])
    settings = app.state.settings.model_copy(update={"import_chunk_rows": 2, "import_lease_seconds": lease_seconds})
    factory = app.state.session_factory
    with session_scope(factory) as session:
        actor = Principal(key_id=None, org_id=world.ent_a_id, role="owner")
        job = imports.create_job(
            session, settings=settings, side="demands", mode="commit", all_or_nothing=False, filename="list.xlsx", data=content,
            actor=actor, owner=owner,
        )
    return factory, settings, job


def test_interrupted_job_keeps_whole_chunks_and_resumes_on_the_next_start(world, app, client, monkeypatch):
    factory, settings, job = queued_job(world, app, "crashed")
    job_id = job.id
    calls = []
    original = imports.apply_row

    def crash_on_fourth_row(*args, **kwargs):
        calls.append(1)
        if len(calls) == 4:  # the second chunk has written row 3 and is inside row 4
            raise SimulatedCrash()
        return original(*args, **kwargs)

    monkeypatch.setattr(imports, "apply_row", crash_on_fourth_row)
    with pytest.raises(SimulatedCrash):
        imports.run_job(factory, settings, job_id, owner="crashed")
    monkeypatch.setattr(imports, "apply_row", original)
    job = client.get(f"/api/v1/imports/{job_id}", headers=world.ent_a).json()
    assert (job["status"], job["processed_rows"], job["created"]) == ("running", 2, 2)
    assert [r["title"] for r in listed(world, "demands")] == ["冬季续航衰减问题1", "冬季续航衰减问题2"]

    client.__exit__(None, None, None)  # the service restarts
    client.__enter__()
    deadline = time.monotonic() + 120
    while (job := client.get(f"/api/v1/imports/{job_id}", headers=world.ent_a).json())["status"] != "done":
        assert time.monotonic() < deadline, job
        time.sleep(0.1)
    assert (job["processed_rows"], job["created"], job["failed"]) == (5, 5, 0)
    assert [r["title"] for r in listed(world, "demands")] == [f"冬季续航衰减问题{n}" for n in range(1, 6)]


def test_job_deleted_while_it_runs_ends_as_missing_and_drops_its_file(world, app):
    factory, settings, job = queued_job(world, app, "worker")
    job_id = job.id

    def delete_after_first_chunk(done: int, total: int) -> None:
        if done == 2:
            with session_scope(factory) as session:
                session.delete(session.get(ImportJob, job_id))

    assert imports.run_job(factory, settings, job_id, owner="worker", progress=delete_after_first_chunk) == "missing"
    with session_scope(factory) as session:
        assert session.get(ImportFile, job_id) is None
    assert [r["title"] for r in listed(world, "demands")] == ["冬季续航衰减问题1", "冬季续航衰减问题2"]


def test_a_worker_that_lost_its_lease_rolls_its_chunk_back_and_another_finishes(world, app, client):
    """A slow worker's lease runs out after its first chunk and the service's import runner takes
    the job over; the slow one writes its next chunk, finds under the job's lock that the job is no
    longer its own, and rolls the chunk back. The runner goes on from row 2: every row once."""
    factory, settings, job = queued_job(world, app, "slow", lease_seconds=1)
    settings = settings.model_copy(update={"import_heartbeat_seconds": 3600})  # no renewal but the chunks'
    job_id = job.id

    def owner() -> str | None:
        with session_scope(factory) as session:
            return session.get(ImportJob, job_id).lease_owner

    def taken_over_after_first_chunk(done: int, total: int) -> None:
        deadline = time.monotonic() + 60
        while done == 2 and owner() == "slow":
            assert time.monotonic() < deadline, "no worker took the job over"
            time.sleep(0.1)

    assert imports.run_job(factory, settings, job_id, owner="slow", progress=taken_over_after_first_chunk) == "lost"
    deadline = time.monotonic() + 120
    while (done := client.get(f"/api/v1/imports/{job_id}", headers=world.ent_a).json())["status"] != "done":
        assert time.monotonic() < deadline, done
        time.sleep(0.1)
    assert (done["processed_rows"], done["created"], done["failed"]) == (5, 5, 0)
    assert [r["title"] for r in listed(world, "demands")] == [f"冬季续航衰减问题{n}" for n in range(1, 6)]


def test_template_imports_no_row_and_its_example_imports_when_copied(world):
    for side, title in (("demands", "需求名称*"), ("achievements", "成果名称*")):
        response = world.client.get("/api/v1/imports/template", params={"side": side}, headers=world.uni)
        assert response.status_code == 200
        workbook = load_workbook(io.BytesIO(response.content))
        assert workbook.sheetnames == ["导入", "填写说明", "代码表"]
        sheet, guide = workbook["导入"], workbook["填写说明"]
        assert title in [c.value for c in sheet[1]] and sheet.max_row == 1
        assert len(sheet.data_validations.dataValidation) >= 2
        job = run(world, side, response.content, key=world.uni)
        assert (job["status"], job["total_rows"], job["created"], job["failed"]) == ("done", 0, 0, 0), job
        # the example on the 填写说明 sheet, pasted into the 导入 sheet, is a valid row
        header, example = [[c.value for c in row] for row in guide.iter_rows(min_row=guide.max_row - 1)]
        assert header == [c.value for c in sheet[1]] and "JL-2026-0001" in example
        sheet.append(example)
        buffer = io.BytesIO()
        workbook.save(buffer)
        job = run(world, side, buffer.getvalue(), key=world.uni, mode="dry_run")
        assert (job["created"], job["failed"]) == (1, 0), job["errors"]


def test_exported_statuses_are_accepted_or_noted_never_refused(world):
    header = DEMAND_HEADER + ["状态"]
    rows = [
        header,
        demand_row(1) + ["已发布"],  # row 2: published
        demand_row(2) + ["草稿"],  # row 3: a draft
        demand_row(3) + ["已验收"],  # row 4: a state an import cannot set: a draft, with a note
        demand_row(4) + ["进行中"],  # row 5: likewise
        demand_row(5) + ["还行吧"],  # row 6: not a status at all: a row error
    ]
    job = run(world, "demands", xlsx(rows))
    assert (job["created"], job["failed"]) == (4, 1), job["errors"]
    assert [(e["row"], e["column"]) for e in job["errors"]] == [(6, "状态")]
    assert job["errors"][0]["reason"].startswith("不认识的状态（可填 发布、草稿、已关闭")
    assert [(n["row"], n["column"]) for n in job["notes"]] == [(4, "状态"), (5, "状态")]
    assert job["notes"][0]["reason"].startswith("状态「已验收」不能由导入设置：新记录已存为草稿")
    statuses = [r["status"] for r in listed(world, "demands")]
    assert statuses == ["published", "draft", "draft", "draft"]

    # on re-import: a draft may be published; any other state is kept, with a note, never a failure
    rows = [header, demand_row(1) + ["草稿"], demand_row(2) + ["发布"], demand_row(3) + ["已关闭"], demand_row(4) + ["草稿"]]
    job = run(world, "demands", xlsx(rows))
    assert (job["created"], job["updated"], job["skipped"], job["failed"]) == (0, 1, 3, 0), job["errors"]
    assert [n["row"] for n in job["notes"]] == [2, 4]
    assert job["notes"][0]["reason"].startswith("状态「草稿」未导入：导入不改变记录状态，记录仍为「发布」")
    statuses = [r["status"] for r in listed(world, "demands")]
    assert statuses == ["published", "published", "draft", "draft"]


@pytest.mark.slow
def test_console_import_with_progress_and_all_or_nothing_exit_code(world, app, tmp_path):
    good = tmp_path / "good.xlsx"
    good.write_bytes(xlsx([DEMAND_HEADER, demand_row(1), demand_row(2)]))
    bad = tmp_path / "bad.xlsx"
    bad.write_bytes(xlsx([DEMAND_HEADER, demand_row(3), demand_row(4, **{"联系电话": "电话"})]))
    env = {**os.environ, "TECHMATCH_DATABASE_URL": app.state.settings.resolved_database_url, "TECHMATCH_DATA_DIR": str(tmp_path)}
    techmatch = os.path.join(os.path.dirname(sys.executable), "techmatch")

    def command(*args):
        return subprocess.run(
            [techmatch, "import", *args, "--org", str(world.ent_a_id)], capture_output=True, text=True, env=env, timeout=120
        )

    refused = command(str(bad), "--side", "demands", "--all-or-nothing")
    assert refused.returncode == 1 and refused.stdout == ""
    assert "0 created" in refused.stderr and "row 3 [联系电话]" in refused.stderr
    done = command(str(good), "--side", "demands")
    assert done.returncode == 0 and "2 created" in done.stderr and "row/s" in done.stderr  # the progress bar
    assert [r["title"] for r in listed(world, "demands")] == ["冬季续航衰减问题1", "冬季续航衰减问题2"]
