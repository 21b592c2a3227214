"""What a person does from a record page, over HTTP (both databases): a broker's 对接清单 button,
the interest form, edit, close and withdraw, and a refused action answered with the service's own
status (403, 404, 409, 412) on a page that still shows the form and says why.
"""

import re

from conftest import database_fingerprint
from payloads import achievement, demand
from sqlalchemy import select
from web_support import add_user, csrf_of, sign_in

from app.database import session_scope
from app.organizations.models import Organization
from app.users.models import User

# A demand and achievements whose best match is rated at least "possible", so its page offers the button.
THERMAL = demand(title="电动汽车冬季续航衰减：电池低温热管理", keywords=["电池热管理", "低温"],
                 description="纯电动乘用车在-20℃环境下续航衰减超过40%，需要电池低温热管理与快速预热方案。")
OTHERS = [
    achievement(title="玉米秸秆酶解制备聚乳酸工艺", abstract="以玉米秸秆纤维素为原料，经预处理、酶解糖化、发酵制备L-乳酸并聚合为聚乳酸。",
                fields=["bio_based_materials"], keywords=["聚乳酸", "秸秆"], patents=[]),
    achievement(title="高速列车转向架焊接残余应力检测", abstract="基于超声临界折射纵波的焊接残余应力无损检测方法与装置。",
                fields=["rail"], keywords=["残余应力", "超声检测"], patents=[]),
]
PHONES = {"ent_a": "13800000001", "ent_b": "13900000002", "uni": "13700000003", "broker": "13600000004"}


def _person(client, app, world, who: str, role: str = "owner") -> None:
    """Signs `who` in (a person of that organization), ending whoever was signed in before."""
    org_id = {"ent_a": world.ent_a_id, "ent_b": world.ent_b_id, "uni": world.uni_id, "broker": world.broker_org_id}[who]
    phone = PHONES[who] if role != "reader" else "135" + PHONES[who][3:]
    with session_scope(app.state.session_factory, read_only=True) as session:
        known = session.scalar(select(User.id).where(User.phone == phone)) is not None
    if not known:
        add_user(app.state.session_factory, org_id=org_id, role=role, name=f"{who}-{role}", phone=phone)
    client.cookies.clear()
    assert sign_in(client, phone).status_code == 303


def _stored(app) -> dict:
    """Every row but the people and their sessions (signing in writes those) and the dispatcher's
    position (the background dispatcher moves it on its own)."""
    skip = ("users", "web_sessions", "dispatch_cursor")
    return {table: rows for table, rows in database_fingerprint(app).items() if table not in skip}


def _published(client, world, side: str, body: dict, key: dict) -> dict:
    response = client.post(f"/api/v1/{side}", json={**body, "status": "published"}, headers=key)
    assert response.status_code == 201, response.text
    return response.json()


def _post(client, path: str, data: dict, page: str | None = None):
    """Posts a form with the CSRF token of the page it is on (`page`, else `path`)."""
    token = csrf_of(client.get(page or path).text)
    return client.post(path, data={**data, "csrf_token": token}, follow_redirects=False)


def _alert(html: str) -> str:
    found = re.search(r'<p class="alert" role="alert">(.*?)</p>', html, re.S)
    assert found, "no message at the top of the page"
    return found.group(1)


def test_a_broker_shortlists_a_match_and_the_pair_waits_on_its_home_page(client, app, world):
    offered = _published(client, world, "achievements", achievement(), world.uni)
    for body in OTHERS:
        _published(client, world, "achievements", body, world.uni)
    wanted = _published(client, world, "demands", THERMAL, world.ent_a)
    _person(client, app, world, "broker", "broker")
    record = client.get(f"/web/demands/{wanted['id']}").text
    assert "加入对接清单" in record
    form = re.search(r'name="achievement_id" value="(\d+)">\s*<input type="hidden" name="match_score" value="([^"]+)">\s*'
                     r'<input type="hidden" name="match_rank" value="(\d+)">', record)
    assert form and int(form.group(1)) == offered["id"]
    pair = {"demand_id": wanted["id"], "achievement_id": offered["id"], "match_score": form.group(2), "match_rank": form.group(3)}
    added = _post(client, f"/web/demands/{wanted['id']}/shortlist", pair, page=f"/web/demands/{wanted['id']}")
    assert added.status_code == 303
    entry_id = int(added.headers["location"].rsplit("shortlisted-", 1)[1])
    assert f"已加入对接清单（编号 {entry_id}）" in client.get(added.headers["location"]).text
    entries = client.get("/api/v1/brokerage/shortlist", headers=world.broker).json()
    assert [(e["id"], e["status"], e["source"], e["match_rank"]) for e in entries] == [(entry_id, "suggested", "match", 1)]
    home = client.get("/web/").text
    assert "对接清单中进行中的配对" in home
    assert f'<a href="/web/brokerage/{entry_id}">需求「{wanted["title"]}」与成果「{offered["title"]}」（对接清单 {entry_id}）</a>' in home

    before = _stored(app)
    again = _post(client, f"/web/demands/{wanted['id']}/shortlist", pair, page=f"/web/demands/{wanted['id']}")
    assert again.status_code == 409  # the service's conflict, on the record page with its reason
    assert _alert(again.text) == f"与记录当前状态冲突 / this pair is already on your shortlist as entry {entry_id}"
    assert "<h1>" + wanted["title"] in again.text and "处问题" not in again.text
    missing = _post(client, f"/web/demands/{wanted['id']}/shortlist", {**pair, "achievement_id": offered["id"] + 1000},
                    page=f"/web/demands/{wanted['id']}")
    assert missing.status_code == 404 and "记录不存在 / achievement" in _alert(missing.text)
    assert _stored(app) == before

    _person(client, app, world, "ent_b")  # an owner may not build a shortlist: 403, said in Chinese first
    assert "加入对接清单" not in client.get(f"/web/demands/{wanted['id']}").text
    refused = _post(client, f"/web/demands/{wanted['id']}/shortlist", pair, page=f"/web/demands/{wanted['id']}")
    assert refused.status_code == 403
    assert _alert(refused.text) == "无权修改 / role &#39;owner&#39; may not build a shortlist; needs one of broker, admin"
    assert _stored(app) == before

    with session_scope(app.state.session_factory, read_only=True) as session:  # the province's admin may, as through the API
        admin_org = session.scalar(select(Organization.id).where(Organization.name == "吉林省科学技术厅"))
    add_user(app.state.session_factory, org_id=admin_org, role="admin", name="省科技厅管理员", phone="13500000005")
    client.cookies.clear()
    assert sign_in(client, "13500000005").status_code == 303
    assert "加入对接清单" in client.get(f"/web/demands/{wanted['id']}").text


def test_the_interest_form_registers_once_and_the_owner_sees_it_waiting(client, app, world):
    offered = _published(client, world, "achievements", achievement(), world.uni)
    path = f"/web/achievements/{offered['id']}"
    _person(client, app, world, "ent_a")
    assert "登记合作意向" in client.get(path).text
    before = _stored(app)
    blank = _post(client, f"{path}/interest", {"mode": "", "message": ""}, page=path)
    assert blank.status_code == 422
    assert "必填项缺失" in re.search(r'id="message-error">([^<]*)<', blank.text).group(1)
    assert "必填项缺失" in re.search(r'id="mode-error">([^<]*)<', blank.text).group(1)
    wrong_mode = _post(client, f"{path}/interest", {"mode": "equity", "message": "希望以作价入股方式合作。"}, page=path)
    assert wrong_mode.status_code == 422  # the achievement is offered by licensing only: said beside the mode
    assert "取值无效 / achievement" in re.search(r'id="mode-error">([^<]*)<', wrong_mode.text).group(1)
    assert "希望以作价入股方式合作。</textarea>" in wrong_mode.text  # what was typed is kept
    assert _stored(app) == before

    registered = _post(client, f"{path}/interest", {"mode": "licensing", "message": "我公司希望获得该技术的独占许可。"}, page=path)
    assert registered.status_code == 303
    interest_id = int(registered.headers["location"].rsplit("interest-", 1)[1])
    assert f"已登记合作意向（编号 {interest_id}）" in client.get(registered.headers["location"]).text
    mine = client.get("/api/v1/interests", headers=world.ent_a).json()
    assert [(i["id"], i["mode"], i["status"]) for i in mine] == [(interest_id, "licensing", "pending")]

    twice = _post(client, f"{path}/interest", {"mode": "licensing", "message": "再次登记。"}, page=path)
    assert twice.status_code == 409
    assert _alert(twice.text) == f"与记录当前状态冲突 / your organization&#39;s interest {interest_id} in achievement " \
                                 f"{offered['id']} is still pending"
    assert "再次登记。</textarea>" in twice.text

    _person(client, app, world, "uni")
    home = client.get("/web/").text
    assert f'<a href="{path}">成果「{offered["title"]}」的合作意向 {interest_id}（技术许可）</a>' in home
    client.post(f"/api/v1/interests/{interest_id}/accept", json={"reply": "欢迎洽谈"}, headers=world.uni)
    assert "待答复的合作意向" not in client.get("/web/").text  # answered: no longer waiting


def _edit_form(record: dict, **changes) -> dict:
    form = {"version": str(record["version"]), "title": record["title"], "description": record["description"],
            "fields[]": record["fields"], "keywords": "，".join(record["keywords"]), "region": record["region"],
            "reward": str(record["reward"]), "cooperation_modes[]": record["cooperation_modes"], "negotiable": "false",
            "contact.name": record["contact"]["name"], "contact.phone": record["contact"]["phone"]}
    return {**form, **changes}


def test_edit_shows_a_field_error_in_chinese_then_saves(client, app, world):
    record = _published(client, world, "demands", demand(), world.ent_a)
    path = f"/web/demands/{record['id']}/edit"
    _person(client, app, world, "ent_a")
    page = client.get(path).text
    assert f'value="{record["title"]}"' in page and f'name="version" value="{record["version"]}"' in page

    before = _stored(app)
    bad = _post(client, path, _edit_form(record, title="", reward="-5"))
    assert bad.status_code == 422
    assert re.search(r'id="title-error">([^<]*)<', bad.text).group(1) == "不能为空 / String should have at least 1 character"
    assert "不能小于 0" in re.search(r'id="reward-error">([^<]*)<', bad.text).group(1)
    assert "请修改下方标出的 2 处问题后再提交" in bad.text and 'value="-5"' in bad.text
    assert _stored(app) == before

    saved = _post(client, path, _edit_form(record, title="新能源汽车冬季续航衰减：电池低温热管理", reward="3000000"))
    assert saved.status_code == 303 and saved.headers["location"] == f"/web/demands/{record['id']}"
    now = client.get(f"/api/v1/demands/{record['id']}", headers=world.ent_a).json()
    assert (now["title"], now["reward"], now["version"]) == ("新能源汽车冬季续航衰减：电池低温热管理", 3_000_000, record["version"] + 1)
    assert now["keywords"] == record["keywords"] and now["fields"] == record["fields"]  # the rest is kept as it was
    assert "300 万元" in client.get(saved.headers["location"]).text

    stale = _post(client, path, _edit_form(record, title="旧表单的修改"))  # the form read before the save
    assert stale.status_code == 412
    assert _alert(stale.text).startswith("记录已被他人修改，请重新打开后再改 / demand")
    assert client.get(f"/api/v1/demands/{record['id']}", headers=world.ent_a).json()["title"] == now["title"]

    _person(client, app, world, "ent_b")  # another organization: no edit link, and the form is refused
    assert client.get(path).status_code == 403
    assert ">编辑<" not in client.get(f"/web/demands/{record['id']}").text


def test_close_ends_open_proposals_and_withdraw_takes_a_record_back(client, app, world):
    wanted = _published(client, world, "demands", demand(), world.ent_a)
    proposal = client.post(f"/api/v1/demands/{wanted['id']}/proposals", headers=world.uni, json={
        "technical_approach": "脉冲自加热与热泵耦合。", "lead": {"name": "李教授"},
        "schedule": [{"title": "样机", "due_date": "2030-06-30"}],
    })
    assert proposal.status_code == 201, proposal.text
    offered = _published(client, world, "achievements", achievement(), world.uni)

    _person(client, app, world, "ent_a")
    record_page = client.get(f"/web/demands/{wanted['id']}").text
    assert "确定关闭此需求" in record_page and "确定撤回此需求" in record_page
    close = f"/web/demands/{wanted['id']}/status/close"
    closed = _post(client, close, {"version": str(wanted["version"])}, page=f"/web/demands/{wanted['id']}")
    assert closed.status_code == 303
    assert client.get(f"/api/v1/demands/{wanted['id']}", headers=world.ent_a).json()["status"] == "closed"
    ended = client.get(f"/api/v1/proposals/{proposal.json()['id']}", headers=world.uni).json()
    assert ended["status"] == "not_selected"
    shown = client.get(f"/web/demands/{wanted['id']}").text
    assert '<span class="status status-closed">已关闭</span>' in shown and "确定关闭此需求" not in shown

    version = client.get(f"/api/v1/demands/{wanted['id']}", headers=world.ent_a).json()["version"]
    again = _post(client, close, {"version": str(version)}, page=f"/web/demands/{wanted['id']}")  # a second click, a stale tab
    assert again.status_code == 409
    assert "当前状态不允许" in again.text and "与记录当前状态冲突 / demand is &#39;closed&#39; and cannot move to" in again.text

    _person(client, app, world, "uni")
    withdraw = f"/web/achievements/{offered['id']}/status/withdraw"
    old = _post(client, withdraw, {"version": str(offered["version"] - 1)}, page=f"/web/achievements/{offered['id']}")
    assert old.status_code == 412 and "记录已被他人修改" in old.text
    withdrawn = _post(client, withdraw, {"version": str(offered["version"])}, page=f"/web/achievements/{offered['id']}")
    assert withdrawn.status_code == 303
    assert client.get(f"/api/v1/achievements/{offered['id']}", headers=world.uni).json()["status"] == "withdrawn"

    _person(client, app, world, "ent_b")  # another organization's record: refused with 403 in Chinese, nothing changes
    other = _published(client, world, "achievements", achievement(title="另一项成果"), world.uni)
    refused = _post(client, f"/web/achievements/{other['id']}/status/close", {"version": str(other["version"])},
                    page=f"/web/achievements/{other['id']}")
    assert refused.status_code == 403 and "无权操作" in refused.text and "无权修改 / only the owning organization" in refused.text
    assert client.get(f"/api/v1/achievements/{other['id']}", headers=world.uni).json()["status"] == "published"


def test_the_home_page_lists_proposals_to_review_and_milestones_to_accept(client, app, world):
    wanted = _published(client, world, "demands", demand(deliverables="样机一台"), world.ent_a)
    elsewhere = _published(client, world, "demands", demand(title="化工废水处理"), world.ent_b)
    proposals = {}
    for title, record in (("a", wanted), ("b", elsewhere)):
        created = client.post(f"/api/v1/demands/{record['id']}/proposals", headers=world.uni, json={
            "technical_approach": f"方案 {title}", "lead": {"name": "李教授"}, "budget": 1_000_000,
            "schedule": [{"title": "完成样机", "due_date": "2030-06-30"}],
        })
        assert created.status_code == 201, created.text
        proposals[title] = created.json()["id"]

    _person(client, app, world, "ent_a")
    home = client.get("/web/").text
    link = (f'<a href="/web/demands/{wanted["id"]}/proposals#proposal-{proposals["a"]}">'
            f'需求「{wanted["title"]}」的揭榜申请 {proposals["a"]}（挂帅人 李教授）</a>')
    assert link in home and "待审核" in home
    assert f"揭榜申请 {proposals['b']}" not in home  # another organization's demand
    assert "待验收的里程碑" not in home

    awarded = client.post(f"/api/v1/proposals/{proposals['a']}/award", json={}, headers=world.ent_a)
    assert awarded.status_code == 200, awarded.text
    reported = client.post(f"/api/v1/proposals/{proposals['a']}/milestones/1/report", json={"report": "样机已完成"}, headers=world.uni)
    assert reported.status_code == 200, reported.text
    home = client.get("/web/").text
    assert "待审核的揭榜申请" not in home
    assert f'<a href="/web/demands/{wanted["id"]}/proposals">需求「{wanted["title"]}」的里程碑 1「完成样机」已报告完成</a>' in home
    assert re.search(r'id="waiting">待我处理 <span class="count">1</span>', home)

    _person(client, app, world, "ent_a", "reader")  # a reader decides nothing: nothing waits for them
    home = client.get("/web/").text
    assert "没有等待您处理的事项" in home and "待验收的里程碑" not in home
