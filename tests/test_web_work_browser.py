"""The 揭榜管理, 对接清单, spreadsheet and statistics pages in a real browser against a real service.

Records and proposals are written through the service's API with keys (what partner platforms
do); people then work on them in the pages, with the keyboard where a person would type.
"""

from datetime import date, timedelta

import httpx2 as httpx
import pytest
from openpyxl import Workbook
from payloads import achievement, demand
from web_support import OUTPUT, add_user, sign_in_page

from app.accounts import service as accounts
from app.database import session_scope
from app.organizations import service as organizations
from app.organizations.schemas import OrganizationCreate

TODAY = date.today()
ORGANIZATIONS = {
    "enterprise": OrganizationCreate(name="长春某汽车零部件有限公司", kind="enterprise", region="220104"),
    "university": OrganizationCreate(name="吉林大学", kind="university", region="220102"),
    "broker": OrganizationCreate(name="吉林省技术转移中心", kind="broker_agency", region="220100", broker_scope="province"),
    "office": OrganizationCreate(name="吉林省科学技术厅", kind="government", region="220000"),
}
USERS = {  # organization, role, phone
    "enterprise": ("enterprise", "owner", "13800000101"),
    "team": ("university", "owner", "13700000102"),
    "broker": ("broker", "broker", "13600000103"),
    "admin": ("office", "admin", "13500000104"),
}


class World:
    def __init__(self, site):
        self.site = site
        with session_scope(site.session_factory) as session:
            self.org_ids = {name: organizations.create(session, data=data).id for name, data in ORGANIZATIONS.items()}
            self.keys = {
                name: {"Authorization": f"Bearer {accounts.issue(session, org_id=self.org_ids[name], role='owner')[1]}"}
                for name in ("enterprise", "university")
            }
        for name, (org, role, phone) in USERS.items():
            add_user(site.session_factory, org_id=self.org_ids[org], role=role, name=name, phone=phone)

    def api(self, path: str, key: str, body: dict) -> dict:
        response = httpx.post(f"{self.site.base}/api/v1{path}", json=body, headers=self.keys[key], timeout=60)
        assert response.status_code in (200, 201), response.text
        return response.json()


@pytest.fixture(scope="module")
def world(site) -> World:
    return World(site)


def _signed_in(browser, site, user: str):
    """A new browser context signed in as `user` (people work in their own browsers)."""
    context = browser.new_context(base_url=site.base, viewport={"width": 1100, "height": 900}, locale="zh-CN")
    context.set_default_timeout(30_000)
    tab = context.new_page()
    tab.on("dialog", lambda dialog: dialog.accept())
    sign_in_page(tab, USERS[user][2])
    return tab


def test_a_broker_shortlists_a_matched_pair_records_a_contact_and_its_contract(page, site, world):
    demand_id = world.api("/demands", "enterprise", demand(status="published"))["id"]
    # Worded as the demand is: on an index this small, only a close match is rated worth forwarding.
    answer = achievement(status="published", title="新能源汽车冬季续航衰减的电池低温热管理方案",
                         abstract="纯电动乘用车在-20℃环境下续航里程衰减超过40%，本成果为电池低温热管理方案，-20℃下5分钟内升温至10℃。")
    achievement_id = world.api("/achievements", "university", answer)["id"]
    sign_in_page(page, USERS["broker"][2])
    page.goto(f"/web/demands/{demand_id}")
    match = page.locator("li.match", has=page.locator(f'a[href="/web/achievements/{achievement_id}"]'))
    match.get_by_role("button", name="加入对接清单").click()
    assert "已加入对接清单" in page.locator("#notice").inner_text()

    page.get_by_role("link", name="对接清单", exact=True).click()
    page.get_by_role("link", name="新能源汽车冬季续航衰减的电池低温热管理方案").first.click()
    page.get_by_text("添加对接记录").click()
    page.get_by_label("日期").fill(TODAY.isoformat())
    page.get_by_label("方式").select_option(label="走访")
    page.get_by_label("参与方（每行一位）").fill("长春某汽车零部件有限公司 王经理\n吉林大学 李教授")
    page.get_by_label("情况").fill("企业赴校考察，双方有许可意向")
    page.get_by_role("button", name="保存对接记录").click()
    assert "已添加对接记录" in page.locator("#notice").inner_text()
    assert page.get_by_role("cell", name="企业赴校考察，双方有许可意向").is_visible()

    page.get_by_role("button", name="标为「已联系」").click()
    page.get_by_role("button", name="标为「洽谈中」").click()
    page.get_by_label("合同类型").select_option(label="技术许可")
    page.get_by_label("合同金额（元）").fill("1200000")
    page.get_by_label("签订日期").fill(TODAY.isoformat())
    page.get_by_label("合同名称").fill("动力电池低温热管理技术许可合同")
    page.get_by_label("合同名称").press("Enter")
    assert "对接已签约" in page.locator("#notice").inner_text()
    assert "已签约" in page.get_by_role("heading", level=1).inner_text()
    assert page.get_by_text("120 万元").is_visible()


def test_the_enterprise_awards_with_milestones_and_accepts_what_the_team_reports(page, browser, site, world):
    body = demand(status="published", title="电池包低温快速预热装置", deliverables="样机一套、低温测试报告")
    demand_id = world.api("/demands", "enterprise", body)["id"]
    proposal = {
        "technical_approach": "脉冲自加热与热泵耦合，整车热管理策略优化。", "lead": {"name": "李教授", "title": "教授"},
        "budget": 1_800_000,
        "schedule": [{"title": "样机试制", "due_date": (TODAY + timedelta(days=100)).isoformat()}],
    }
    proposal_id = world.api(f"/demands/{demand_id}/proposals", "university", proposal)["id"]

    page.on("dialog", lambda dialog: dialog.accept())
    sign_in_page(page, USERS["enterprise"][2])
    page.goto(f"/web/demands/{demand_id}")
    page.get_by_role("link", name="揭榜管理（申请、授榜、里程碑）").click()
    page.get_by_text("授榜（签订军令状）").click()
    award = page.locator(f"#award-{proposal_id}")
    award.get_by_label("金额（元）").fill("1500000")
    award.get_by_label("里程碑 1").fill("样机试制与台架测试")
    award.get_by_label("完成日期").first.fill((TODAY + timedelta(days=60)).isoformat())
    award.get_by_label("里程碑 2").fill("整车低温测试")
    award.get_by_label("完成日期").nth(1).fill((TODAY + timedelta(days=150)).isoformat())
    award.get_by_role("button", name="授榜").click()
    assert "已中选" in page.locator("#notice").inner_text()
    assert page.get_by_role("cell", name="整车低温测试").is_visible()

    team = _signed_in(browser, site, "team")
    team.goto(f"/web/demands/{demand_id}/proposals")
    first = team.locator(f"#milestone-{proposal_id}-1")
    first.get_by_label("完成情况汇报").fill("样机已完成，-20℃台架测试报告已上传。")
    first.get_by_role("button", name="汇报完成").click()
    assert "待验收" in team.locator(f"#milestone-{proposal_id}-1").inner_text()
    team.screenshot(path=str(OUTPUT / "team_reports_a_milestone.png"), full_page=True)
    team.context.close()

    page.reload()
    row = page.locator(f"#milestone-{proposal_id}-1")
    assert "样机已完成" in row.inner_text()
    row.get_by_role("button", name="验收通过").click()
    assert "已验收" in page.locator(f"#milestone-{proposal_id}-1").inner_text()
    assert "待完成" in page.locator(f"#milestone-{proposal_id}-2").inner_text()


def test_an_office_user_imports_a_spreadsheet_and_reads_the_row_report(page, site, world, tmp_path):
    book = Workbook()
    sheet = book.active
    sheet.append(["需求名称", "需求描述", "所属领域", "所在地区", "榜额(万元)", "截止日期"])
    sheet.append(["玉米秸秆制乳酸工艺放大", "需要千吨级秸秆糖化制乳酸中试工艺包。", "生物基材料", "吉林省/吉林市", 280, "2027-06-30"])
    sheet.append(["", "这一行没有名称", "生物基材料", "吉林省/长春市", 50, "2027-06-30"])
    sheet.append(["高寒地区光伏组件除雪", "组件表面积雪自动清除。", "新能源/氢能", "吉林省/白城市", "很多", "2027-06-30"])
    path = tmp_path / "2026年度技术需求清单.xlsx"
    book.save(path)

    sign_in_page(page, USERS["enterprise"][2])
    page.get_by_role("link", name="表格", exact=True).click()
    page.get_by_label("导入到").select_option(label="技术需求")
    page.get_by_label("文件（.xlsx，或 UTF-8 / GBK 编码的 .csv）").set_input_files(str(path))
    page.get_by_role("button", name="上传并导入").click()
    page.wait_for_url("**/web/imports/*")
    report = page.locator("#import-errors")
    report.wait_for(timeout=60_000)  # the page polls the job and reloads itself when it has ended
    assert page.locator("#import-status").inner_text() == "已完成"
    counts = page.locator("#import-counts").inner_text()
    assert "新增\n1" in counts and "出错\n2" in counts
    rows = report.locator("tbody tr")
    assert rows.count() == 2
    assert "必填项缺失" in rows.nth(0).inner_text() and "3" in rows.nth(0).locator("td").first.inner_text()
    assert "榜额(万元)" in rows.nth(1).inner_text()


def test_an_admin_reads_the_statistics_charts(page, site, world):
    world.api("/demands", "enterprise", demand(status="published", title="汽车轻量化铝合金压铸件"))
    sign_in_page(page, USERS["admin"][2])
    page.get_by_role("link", name="统计", exact=True).click()
    for name in ("按领域", "按地市", "按月"):
        chart = page.get_by_role("img", name=name)
        assert chart.count() == 1 and chart.is_visible()
    assert page.locator("#chart-cities-desc").text_content().startswith("技术需求：长春市 ")
    page.get_by_label("地区").fill("火星")
    page.get_by_label("地区").press("Enter")
    assert page.get_by_text("unknown province").is_visible()
