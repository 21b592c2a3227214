"""The web workspace in a real browser against a real service: what a person sees and does."""

import pytest
from web_support import add_user, sign_in_page

from app.database import session_scope
from app.organizations import service as organizations
from app.organizations.schemas import OrganizationCreate


@pytest.fixture(scope="module")
def people(site) -> dict:
    """An enterprise and a university, one owner each."""
    with session_scope(site.session_factory) as session:
        enterprise = OrganizationCreate(name="长春某汽车零部件有限公司", kind="enterprise", region="220104")
        university = OrganizationCreate(name="吉林大学", kind="university", region="220102")
        ids = {name: organizations.create(session, data=data).id for name, data in (("enterprise", enterprise), ("university", university))}
    add_user(site.session_factory, org_id=ids["enterprise"], role="owner", name="王工", phone="13800000001")
    add_user(site.session_factory, org_id=ids["university"], role="owner", name="李教授", email="li@jlu.edu.cn")
    return ids


def test_sign_in_with_the_keyboard_shows_the_workspace(page, people):
    sign_in_page(page, "138 0000 0001")
    assert page.get_by_role("heading", name="工作台").is_visible()
    assert page.get_by_text("长春某汽车零部件有限公司").first.is_visible()
    page.get_by_role("button", name="退出").click()
    page.wait_for_url("**/web/login")
    page.goto("/web/")
    assert "/web/login" in page.url  # signed out: the workspace asks to sign in again
