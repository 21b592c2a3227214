"""The web workspace's 揭榜管理, 对接清单, spreadsheet and statistics pages over HTTP (both databases):
who may see and do what, and that each refusal is shown, in Chinese, with nothing written."""

import io
import time
from datetime import date, timedelta

from openpyxl import Workbook
from payloads import achievement, demand
from sqlalchemy import func, select
from web_support import add_user, csrf_of, sign_in

from app.brokerage.models import ContactRecord, ShortlistEntry
from app.contracts.models import Contract
from app.database import session_scope
from app.demands.models import Demand
from app.proposals.models import Proposal

API = "/api/v1"
TODAY = date.today()


def _ok(response, status: int = 200) -> dict:
    assert response.status_code == status, response.text
    return response.json()


def _as(client, app, *, org_id: int, role: str, phone: str) -> str:
    """Signs `client` in as a new user; returns a CSRF token for its forms."""
    client.cookies.clear()
    add_user(app.state.session_factory, org_id=org_id, role=role, name=f"用户{phone[-4:]}", phone=phone)
    assert sign_in(client, phone).status_code == 303
    return csrf_of(client.get("/web/").text)


def _count(app, model, *where) -> int:
    with session_scope(app.state.session_factory, read_only=True) as session:
        return session.scalar(select(func.count()).select_from(model).where(*where))


def _call_with_proposal(world) -> tuple[int, int]:
    """A published demand of enterprise A with the university's proposal: (demand id, proposal id)."""
    record = _ok(world.client.post(f"{API}/demands", json=demand(status="published", deliverables="样机一套、测试报告"),
                                   headers=world.ent_a), 201)
    body = {
        "technical_approach": "脉冲自加热与热泵耦合的电池低温热管理方案。", "lead": {"name": "李教授"}, "budget": 1_800_000,
        "schedule": [{"title": "样机试制", "due_date": (TODAY + timedelta(days=100)).isoformat()}],
    }
    proposal = _ok(world.client.post(f"{API}/demands/{record['id']}/proposals", json=body, headers=world.uni), 201)
    return record["id"], proposal["id"]


def test_only_the_demand_owner_awards_and_other_organizations_see_no_proposals(client, app, world):
    demand_id, proposal_id = _call_with_proposal(world)
    award = {"amount": "1500000", "milestones.0.title": "样机交付", "milestones.0.due_date": (TODAY + timedelta(days=60)).isoformat()}

    token = _as(client, app, org_id=world.ent_a_id, role="reader", phone="13800000011")
    page = client.get(f"/web/demands/{demand_id}/proposals")
    assert page.status_code == 200 and "脉冲自加热" in page.text  # the owning organization reads its proposals
    assert "授榜（签订军令状）" not in page.text  # but a reader is offered no decision
    refused = client.post(f"/web/proposals/{proposal_id}/award", data={**award, "csrf_token": token})
    assert refused.status_code == 403 and "无权修改" in refused.text
    assert _count(app, Proposal, Proposal.status == "awarded") == 0

    token = _as(client, app, org_id=world.ent_b_id, role="owner", phone="13900000012")
    page = client.get(f"/web/demands/{demand_id}/proposals")
    assert page.status_code == 200 and "脉冲自加热" not in page.text and "您的单位没有对此需求的揭榜申请" in page.text
    assert client.post(f"/web/proposals/{proposal_id}/award", data={**award, "csrf_token": token}).status_code == 404
    assert client.post(f"/web/proposals/{proposal_id}/shortlist", data={"csrf_token": token}).status_code == 404

    token = _as(client, app, org_id=world.ent_a_id, role="owner", phone="13800000013")
    assert client.post(f"/web/proposals/{proposal_id}/award", data=award).status_code == 403  # no CSRF token
    bad = client.post(f"/web/proposals/{proposal_id}/award", data={**award, "milestones.0.due_date": "明年", "csrf_token": token})
    assert bad.status_code == 422 and "不是日期" in bad.text and 'aria-invalid="true"' in bad.text
    done = client.post(f"/web/proposals/{proposal_id}/award", data={**award, "csrf_token": token}, follow_redirects=False)
    assert done.status_code == 303
    with session_scope(app.state.session_factory, read_only=True) as session:
        proposal = session.get(Proposal, proposal_id)
        assert proposal.status == "awarded" and proposal.pledge["amount"] == 1_500_000
        assert [m.title for m in proposal.milestones] == ["样机交付"]
        assert session.get(Demand, demand_id).status == "in_progress"


def test_milestones_are_reported_by_the_winner_and_accepted_by_the_owner(client, app, world):
    demand_id, proposal_id = _call_with_proposal(world)
    _ok(world.client.post(f"{API}/proposals/{proposal_id}/award", json={}, headers=world.ent_a))

    owner = _as(client, app, org_id=world.ent_a_id, role="owner", phone="13800000021")
    early = client.post(f"/web/proposals/{proposal_id}/milestones/1/accept", data={"csrf_token": owner})
    assert early.status_code == 409 and "与记录当前状态冲突" in early.text  # nothing reported yet: 409 shown in Chinese
    assert client.post(f"/web/proposals/{proposal_id}/milestones/1/report", data={"report": "完成", "csrf_token": owner}).status_code == 403

    winner = _as(client, app, org_id=world.uni_id, role="owner", phone="13700000022")
    empty = client.post(f"/web/proposals/{proposal_id}/milestones/1/report", data={"report": "", "csrf_token": winner})
    assert empty.status_code == 422 and "必填项缺失" in empty.text
    reported = client.post(f"/web/proposals/{proposal_id}/milestones/1/report", data={"report": "样机完成", "csrf_token": winner})
    assert reported.status_code == 200 and "里程碑已更新" in reported.text

    owner = _as(client, app, org_id=world.ent_a_id, role="owner", phone="13800000023")
    assert "样机完成" in client.get(f"/web/demands/{demand_id}/proposals").text
    assert client.post(f"/web/proposals/{proposal_id}/milestones/1/accept", data={"csrf_token": owner}).status_code == 200
    finished = client.post(f"/web/demands/{demand_id}/outcome/complete", data={"csrf_token": owner})
    assert finished.status_code == 200 and "需求已结项：已验收" in finished.text


def _pair(world) -> tuple[int, int]:
    demand_id = _ok(world.client.post(f"{API}/demands", json=demand(status="published"), headers=world.ent_a), 201)["id"]
    achievement_id = _ok(world.client.post(f"{API}/achievements", json=achievement(status="published"), headers=world.uni), 201)["id"]
    return demand_id, achievement_id


def test_the_broker_board_moves_a_pair_records_contacts_and_signs_it_with_a_contract(client, app, world):
    demand_id, achievement_id = _pair(world)
    broker = _as(client, app, org_id=world.broker_org_id, role="broker", phone="13600000031")
    added = client.post(f"/web/demands/{demand_id}/shortlist", data={"demand_id": demand_id, "achievement_id": achievement_id,
                                                                      "csrf_token": broker}, follow_redirects=False)
    assert added.status_code == 303
    entry_id = int(added.headers["location"].rsplit("shortlisted-", 1)[1])
    board = client.get("/web/brokerage")
    assert board.status_code == 200 and f'href="/web/brokerage/{entry_id}"' in board.text

    early = client.post(f"/web/brokerage/{entry_id}/contract", data={
        "contract_type": "licensing", "amount": "1200000", "signed_on": TODAY.isoformat(), "csrf_token": broker,
    })
    assert early.status_code == 409 and "与记录当前状态冲突" in early.text  # a suggested pair cannot sign yet
    no_reason = client.post(f"/web/brokerage/{entry_id}/status", data={"status": "dropped", "csrf_token": broker})
    assert no_reason.status_code == 422 and "a dropped pair needs a reason" in no_reason.text
    bad_contact = client.post(f"/web/brokerage/{entry_id}/contacts",
                              data={"contact_date": "昨天", "channel": "visit", "csrf_token": broker})
    assert bad_contact.status_code == 422 and "不是日期" in bad_contact.text
    contact = {"contact_date": TODAY.isoformat(), "channel": "visit", "parties": "长春某汽车 王经理\n吉林大学 李教授", "notes": "初步意向",
               "csrf_token": broker}
    assert client.post(f"/web/brokerage/{entry_id}/contacts", data=contact).status_code == 200
    for stage in ("contacted", "negotiating"):
        assert client.post(f"/web/brokerage/{entry_id}/status", data={"status": stage, "csrf_token": broker}).status_code == 200
    signed = client.post(f"/web/brokerage/{entry_id}/contract", data={
        "contract_type": "licensing", "amount": "1200000", "signed_on": TODAY.isoformat(), "title": "低温热管理技术许可合同",
        "csrf_token": broker,
    })
    assert signed.status_code == 200 and "已登记技术合同" in signed.text and "低温热管理技术许可合同" in signed.text
    with session_scope(app.state.session_factory, read_only=True) as session:
        entry = session.get(ShortlistEntry, entry_id)
        assert entry.status == "contract_signed"
        assert [c.parties for c in entry.contacts] == [["长春某汽车 王经理", "吉林大学 李教授"]]

    # The demand's owner reads the pair but may not work on it; another enterprise does not see it.
    owner = _as(client, app, org_id=world.ent_a_id, role="owner", phone="13800000032")
    read = client.get(f"/web/brokerage/{entry_id}")
    assert read.status_code == 200 and "低温热管理技术许可合同" in read.text  # the contract on its demand, too
    refused = client.post(f"/web/brokerage/{entry_id}/contacts", data={**contact, "csrf_token": owner})
    assert refused.status_code == 403 and "无权修改" in refused.text
    assert _count(app, ContactRecord) == 1 and _count(app, Contract) == 1
    _as(client, app, org_id=world.ent_b_id, role="owner", phone="13900000033")
    assert client.get(f"/web/brokerage/{entry_id}").status_code == 404


def _workbook(rows: list[list]) -> bytes:
    book = Workbook()
    sheet = book.active
    sheet.append(["需求名称", "需求描述", "所属领域", "所在地区", "榜额(万元)"])
    for row in rows:
        sheet.append(row)
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()


def test_an_upload_needs_its_token_and_an_owner_and_its_page_shows_the_row_report(client, app, world):
    data = _workbook([["秸秆制乳酸工艺放大", "需要千吨级中试工艺包。", "生物基材料", "吉林省/吉林市", 280], ["", "缺名称的行", "", "", ""]])
    files = {"file": ("需求清单.xlsx", data, "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet")}
    reader = _as(client, app, org_id=world.ent_a_id, role="reader", phone="13800000041")
    assert client.post("/web/imports", data={"side": "demands", "mode": "commit"}, files=files).status_code == 403
    refused = client.post("/web/imports", data={"side": "demands", "mode": "commit", "csrf_token": reader}, files=files)
    assert refused.status_code == 403 and "无权修改" in refused.text

    owner = _as(client, app, org_id=world.ent_a_id, role="owner", phone="13800000042")
    wrong = client.post("/web/imports", data={"side": "demands", "mode": "commit", "csrf_token": owner},
                        files={"file": ("notes.txt", b"hello", "text/plain")})
    assert wrong.status_code == 422 and "取值无效" in wrong.text
    queued = client.post("/web/imports", data={"side": "demands", "mode": "commit", "csrf_token": owner}, files=files,
                         follow_redirects=False)
    assert queued.status_code == 303
    job_path = queued.headers["location"]
    deadline = time.monotonic() + 60
    while _ok(client.get(f"{job_path}/status"))["status"] not in ("done", "failed"):
        assert time.monotonic() < deadline, "the import did not finish"
        time.sleep(0.2)
    report = client.get(job_path)
    assert report.status_code == 200 and "出错的行" in report.text and "必填项缺失" in report.text
    assert _count(app, Demand, Demand.title == "秸秆制乳酸工艺放大") == 1

    _as(client, app, org_id=world.ent_b_id, role="owner", phone="13900000043")
    assert client.get(job_path).status_code == 404  # another organization's job
    assert client.get(f"{job_path}/status").status_code == 404


def test_the_template_a_list_and_the_annual_list_download(client, app, world):
    _pair(world)
    _as(client, app, org_id=world.platform_id, role="reader", phone="13700000051")
    template = client.get("/web/imports/template?side=achievements")
    assert template.status_code == 200 and template.content[:2] == b"PK"
    exported = client.get("/web/exports/demands?format=csv&field=automotive")
    assert exported.status_code == 200 and "新能源汽车冬季续航衰减问题" in exported.content.decode("utf-8-sig")
    refused = client.get("/web/exports/demands?format=csv&budget_min=很多")
    assert refused.status_code == 422 and "不是整数" in refused.text
    annual = client.get(f"/web/exports/annual?side=demands&year={TODAY.year}")
    assert annual.status_code == 200 and annual.content[:2] == b"PK"
    assert client.get("/web/exports/annual?side=demands&year=去年").status_code == 422


def test_statistics_draw_accessible_charts_and_refuse_a_bad_region(client, app, world):
    _pair(world)
    _as(client, app, org_id=world.platform_id, role="reader", phone="13700000061")
    page = client.get("/web/stats")
    assert page.status_code == 200
    for chart in ("chart-fields", "chart-cities", "chart-months"):
        assert f'id="{chart}" role="img" aria-labelledby="{chart}-title {chart}-desc"' in page.text
    assert "<title>汽车及零部件 · 技术需求：1</title>" in page.text and "<title>新能源/氢能 · 科技成果：1</title>" in page.text
    assert "<title>汽车及零部件 · 科技成果：0</title>" in page.text
    assert "长春市" in page.text and "12 月" in page.text
    assert '<th scope="col">指标</th><th scope="col">技术需求</th><th scope="col">科技成果</th>' in page.text
    assert "<dd>推荐 0，已联系 0，洽谈 0，签约 0，放弃 0</dd>" in page.text
    bad = client.get("/web/stats?region=火星")
    assert bad.status_code == 422 and "unknown province" in bad.text and 'aria-invalid="true"' in bad.text
