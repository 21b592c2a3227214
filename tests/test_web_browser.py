"""The web workspace in a real browser against a real service: what a person sees and does."""

import httpx2 as httpx
import pytest
from payloads import achievement, demand
from web_support import add_user, sign_in_page

from app.accounts import service as accounts
from app.database import session_scope
from app.organizations import service as organizations
from app.organizations.schemas import OrganizationCreate

ACHIEVEMENTS = [
    achievement(),
    achievement(title="玉米秸秆酶解制备聚乳酸工艺", abstract="以玉米秸秆纤维素为原料，经预处理、酶解糖化、发酵制备L-乳酸并聚合为聚乳酸。",
                fields=["bio_based_materials"], keywords=["聚乳酸", "秸秆"], patents=[]),
    achievement(title="高速列车转向架焊接残余应力检测", abstract="基于超声临界折射纵波的焊接残余应力无损检测方法与装置。",
                fields=["rail"], keywords=["残余应力", "超声检测"], patents=[]),
]


@pytest.fixture(scope="module")
def people(site) -> dict:
    """An enterprise and a university, one owner each (a person and an API key), and the university's achievements."""
    with session_scope(site.session_factory) as session:
        enterprise = OrganizationCreate(name="长春某汽车零部件有限公司", kind="enterprise", region="220104")
        university = OrganizationCreate(name="吉林大学", kind="university", region="220102")
        ids = {name: organizations.create(session, data=data).id for name, data in (("enterprise", enterprise), ("university", university))}
        keys = {name: accounts.issue(session, org_id=org_id, role="owner")[1] for name, org_id in ids.items()}
    add_user(site.session_factory, org_id=ids["enterprise"], role="owner", name="王工", phone="13800000001")
    add_user(site.session_factory, org_id=ids["university"], role="owner", name="李教授", email="li@jlu.edu.cn")
    for body in ACHIEVEMENTS:
        created = httpx.post(f"{site.service.url}/achievements", json={**body, "status": "published"},
                             headers={"Authorization": f"Bearer {keys['university']}"}, timeout=120)
        assert created.status_code == 201, created.text
    return {"ids": ids, "keys": keys}


def test_sign_in_with_the_keyboard_shows_the_workspace(page, people):
    sign_in_page(page, "138 0000 0001")
    assert page.get_by_role("heading", name="工作台").is_visible()
    assert page.get_by_text("长春某汽车零部件有限公司").first.is_visible()
    # The stylesheet is served by the service itself (no CDN) and applied.
    assert page.evaluate("getComputedStyle(document.querySelector('header.top')).backgroundColor") == "rgb(18, 53, 91)"
    page.get_by_role("button", name="退出").click()
    page.wait_for_url("**/web/login")
    page.goto("/web/")
    assert "/web/login" in page.url  # signed out: the workspace asks to sign in again


def test_an_enterprise_publishes_a_demand_and_sees_its_matches(page, people):
    sign_in_page(page, "13800000001")
    page.get_by_role("link", name="需求榜单").click()
    page.get_by_role("link", name="发布需求").click()
    page.get_by_label("名称").fill("电动汽车冬季续航衰减：电池低温热管理")
    page.get_by_label("榜额（元）").fill("-5")
    page.get_by_role("button", name="发布", exact=True).click()
    # The API's validation, in Chinese beside each field; nothing was stored.
    assert page.locator("#description-error").inner_text() == "必填项缺失 / Field required"
    assert "不能小于 0" in page.locator("#reward-error").inner_text()
    page.get_by_label("需求描述").fill("纯电动乘用车在-20℃环境下续航衰减超过40%，需要电池低温热管理与快速预热方案。")
    page.get_by_label("榜额（元）").fill("2000000")
    page.get_by_label("新能源").check()
    page.get_by_label("关键词").fill("电池热管理，低温")
    page.get_by_role("button", name="发布", exact=True).click()
    page.wait_for_url("**/web/demands/*")
    assert page.locator("h1 .status").inner_text() == "发布"
    assert page.get_by_text("200 万元").is_visible()
    first = page.locator("ol.matches li").first
    assert first.locator("a").inner_text() == "动力电池低温热管理与快速预热技术"
    assert first.locator("em.hit").count() >= 1  # matched terms highlighted
    assert "创建" in page.locator("#history ~ ul").inner_text()


def test_a_university_applies_to_a_demand(page, people, site):
    body = {**demand(title="新能源汽车电池包低温快速预热", application_deadline=None), "status": "published"}
    created = httpx.post(f"{site.service.url}/demands", json=body, headers={"Authorization": f"Bearer {people['keys']['enterprise']}"},
                         timeout=120)
    assert created.status_code == 201, created.text
    sign_in_page(page, "li@jlu.edu.cn")
    page.get_by_role("link", name="需求榜单").click()
    page.get_by_label("关键词").fill("预热")
    page.get_by_label("关键词").press("Enter")
    page.get_by_role("link", name="新能源汽车电池包低温快速预热").click()
    page.get_by_label("技术方案").fill("采用脉冲自加热与热泵耦合的电池低温热管理方案。")
    page.get_by_label("挂帅人").fill("李教授")
    page.get_by_label("第 1 项节点").fill("完成样机试制")
    page.get_by_role("button", name="提交揭榜申请").click()
    assert "完成日期" in page.locator(".field-error").first.inner_text() or page.locator("#schedule\\.0\\.due_date-error").count() == 1
    page.get_by_label("完成日期").first.fill("2030-06-30")
    page.get_by_role("button", name="提交揭榜申请").click()
    assert "已提交揭榜申请" in page.locator("#notice").inner_text()
    proposals = httpx.get(f"{site.service.url}/demands/{created.json()['id']}/proposals",
                          headers={"Authorization": f"Bearer {people['keys']['university']}"}, timeout=30).json()
    assert [(p["status"], p["lead"]["name"], p["schedule"][0]["due_date"]) for p in proposals] == [("submitted", "李教授", "2030-06-30")]


def test_after_a_proposal_the_demand_owner_finds_it_waiting_on_the_home_page(page, people, site):
    body = {**demand(title="驱动电机控制器低温冷启动", application_deadline=None), "status": "published"}
    created = httpx.post(f"{site.service.url}/demands", json=body, headers={"Authorization": f"Bearer {people['keys']['enterprise']}"},
                         timeout=120)
    assert created.status_code == 201, created.text
    demand_id = created.json()["id"]
    proposal = {"technical_approach": "电机控制器功率器件的低温预热与分级启动策略。", "lead": {"name": "李教授"},
                "schedule": [{"title": "完成台架试验", "due_date": "2030-03-31"}]}
    applied = httpx.post(f"{site.service.url}/demands/{demand_id}/proposals", json=proposal,
                         headers={"Authorization": f"Bearer {people['keys']['university']}"}, timeout=60)
    assert applied.status_code == 201, applied.text
    sign_in_page(page, "13800000001")
    waiting = page.locator("#waiting-list")
    assert waiting.get_by_role("heading", name="待审核的揭榜申请").is_visible()
    row = waiting.locator("li").filter(has_text=f"需求「驱动电机控制器低温冷启动」的揭榜申请 {applied.json()['id']}（挂帅人 李教授）")
    assert row.count() == 1 and "待审核" in row.inner_text()
    row.get_by_role("link").click()
    page.wait_for_url(f"**/web/demands/{demand_id}/proposals#proposal-{applied.json()['id']}")
    assert page.get_by_role("heading", name="揭榜管理").is_visible()
    page.go_back()
    page.wait_for_url("**/web/")
