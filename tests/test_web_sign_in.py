"""The web workspace's sign-in rules and its shared permissions, over HTTP (both databases)."""

import os
import subprocess
import sys
from datetime import timedelta

from fastapi.testclient import TestClient
from payloads import demand
from sqlalchemy import select, update
from web_support import PASSWORD, add_user, csrf_of, sign_in

from app.config import Settings
from app.database import session_scope, utcnow
from app.demands.models import Demand
from app.main import create_app
from app.users.models import User, WebSession


def test_wrong_password_is_refused_and_the_right_one_signs_in(client, app, world):
    add_user(app.state.session_factory, org_id=world.ent_a_id, role="owner", name="王工", phone="13800000001")
    refused = sign_in(client, "13800000001", "not the password")
    assert refused.status_code == 401
    assert "账号或密码错误" in refused.text
    assert "tm_session" not in refused.cookies
    unknown = sign_in(client, "nobody@example.com")
    assert unknown.status_code == 401 and "账号或密码错误" in unknown.text  # same answer as a wrong password
    signed_in = sign_in(client, "+86 138-0000-0001")
    assert signed_in.status_code == 303 and signed_in.headers["location"] == "/web/"
    cookie = signed_in.headers["set-cookie"]
    assert "HttpOnly" in cookie and "SameSite=lax" in cookie and "Secure" not in cookie  # http here; Secure behind https
    assert client.get("/web/").status_code == 200


def _failures(app, user_id: int) -> tuple[int, object]:
    with session_scope(app.state.session_factory, read_only=True) as session:
        user = session.get(User, user_id)
        return user.failed_sign_ins, user.locked_until


def _age_failures(app, user_id: int, seconds: float) -> None:
    """Moves the last failure and the lock back in time, as if `seconds` had passed."""
    with session_scope(app.state.session_factory) as session:
        user = session.get(User, user_id)
        if user.last_failed_at:
            user.last_failed_at -= timedelta(seconds=seconds)
        if user.locked_until:
            user.locked_until -= timedelta(seconds=seconds)


def test_repeated_failures_are_slowed_down_then_locked(client, app, world):
    user_id = add_user(app.state.session_factory, org_id=world.ent_a_id, role="owner", name="王工", email="wang@example.com")
    for _ in range(3):
        assert "账号或密码错误" in sign_in(client, "wang@example.com", "wrong").text
    slowed = sign_in(client, "WANG@example.com")  # even the right password waits now
    assert slowed.status_code == 401 and "尝试过于频繁" in slowed.text
    assert _failures(app, user_id)[0] == 3  # a refused try is not counted
    _age_failures(app, user_id, 3)
    assert "账号或密码错误" in sign_in(client, "wang@example.com", "wrong").text
    _age_failures(app, user_id, 5)
    locked = sign_in(client, "wang@example.com", "wrong")
    assert "账号已锁定 15 分钟" in locked.text
    assert _failures(app, user_id)[1] is not None
    assert "暂时锁定" in sign_in(client, "wang@example.com").text  # the right password is refused during the lock
    _age_failures(app, user_id, 15 * 60 + 1)
    assert sign_in(client, "wang@example.com").status_code == 303
    assert _failures(app, user_id) == (0, None)


def test_a_form_without_its_csrf_token_is_refused(client, app, world):
    add_user(app.state.session_factory, org_id=world.uni_id, role="owner", name="校方负责人", email="owner@jlu.edu.cn")
    client.get("/web/login")
    missing = client.post("/web/login", data={"identifier": "owner@jlu.edu.cn", "password": PASSWORD}, follow_redirects=False)
    assert missing.status_code == 403 and "防伪令牌" in missing.text
    assert sign_in(client, "owner@jlu.edu.cn").status_code == 303
    invite = {"role": "owner", "name": "李教授", "email": "li@jlu.edu.cn", "password": "a long password"}
    assert client.post("/web/users", data=invite).status_code == 403
    assert client.post("/web/users", data={**invite, "csrf_token": "forged"}).status_code == 403
    with session_scope(app.state.session_factory, read_only=True) as session:
        assert session.scalar(select(User).where(User.email == "li@jlu.edu.cn")) is None
    token = csrf_of(client.get("/web/users").text)
    created = client.post("/web/users", data={**invite, "csrf_token": token})
    assert created.status_code == 200 and "已开通用户「李教授」" in created.text


def test_an_expired_session_asks_to_sign_in_again(client, app, world):
    add_user(app.state.session_factory, org_id=world.ent_a_id, role="owner", name="王工", phone="13800000001")
    assert sign_in(client, "13800000001").status_code == 303
    assert client.get("/web/demands").status_code == 200
    with session_scope(app.state.session_factory) as session:
        session.execute(update(WebSession).values(expires_at=utcnow() - timedelta(seconds=1)))
    expired = client.get("/web/demands?q=电池", follow_redirects=False)
    assert expired.status_code == 303
    assert expired.headers["location"].startswith("/web/login?next=")
    add_user(app.state.session_factory, org_id=world.ent_b_id, role="owner", name="赵经理", phone="13900000002")
    assert sign_in(client, "13900000002").status_code == 303  # anyone's sign-in sweeps the expired sessions
    with session_scope(app.state.session_factory, read_only=True) as session:
        expiries = session.scalars(select(WebSession.expires_at)).all()
    assert len(expiries) == 1 and expiries[0] > utcnow()  # only the new session is left


def test_another_organizations_draft_is_not_visible(client, app, world):
    draft = client.post("/api/v1/demands", json={**demand(), "title": "草稿：电池低温热管理", "status": "draft"}, headers=world.ent_a)
    assert draft.status_code == 201, draft.text
    draft_id = draft.json()["id"]
    add_user(app.state.session_factory, org_id=world.ent_b_id, role="owner", name="赵经理", phone="13900000002")
    add_user(app.state.session_factory, org_id=world.ent_a_id, role="reader", name="王工", phone="13800000001")
    assert sign_in(client, "13900000002").status_code == 303
    assert client.get(f"/web/demands/{draft_id}").status_code == 404
    assert "草稿：电池低温热管理" not in client.get("/web/demands").text
    client.cookies.clear()
    assert sign_in(client, "13800000001").status_code == 303  # the owning organization's reader sees it
    assert "草稿：电池低温热管理" in client.get(f"/web/demands/{draft_id}").text


def test_a_reader_cannot_post(client, app, world):
    add_user(app.state.session_factory, org_id=world.platform_id, role="reader", name="平台用户", phone="13700000003")
    assert sign_in(client, "13700000003").status_code == 303
    assert client.get("/web/demands/new").status_code == 403
    assert client.get("/web/users").status_code == 403  # people's e-mails and phone numbers: owners and admins only
    token = csrf_of(client.get("/web/demands").text)
    posted = client.post("/web/demands/new", data={"csrf_token": token, "title": "读者不能发布", "description": "……", "action": "publish"})
    # The service's refusal keeps its status (403, as the API answers) and the form is shown again with it.
    assert posted.status_code == 403 and "无权修改 / role &#39;reader&#39; may not create demands" in posted.text
    assert 'value="读者不能发布"' in posted.text and "处问题" not in posted.text  # no field is to blame
    with session_scope(app.state.session_factory, read_only=True) as session:
        assert session.scalar(select(Demand).where(Demand.title == "读者不能发布")) is None


def test_create_user_on_the_command_line_then_sign_in(tmp_path):
    """`techmatch create-user` reads the password from standard input and prints only the new id."""
    env = {**os.environ, "TECHMATCH_DATA_DIR": str(tmp_path)}
    env.pop("TECHMATCH_DATABASE_URL", None)
    techmatch = os.path.join(os.path.dirname(sys.executable), "techmatch")

    def run(*args, password=""):
        return subprocess.run([techmatch, *args], input=password, capture_output=True, text=True, env=env, timeout=120)

    assert run("db", "upgrade").returncode == 0
    org = run("create-org", "--name", "吉林大学", "--kind", "university").stdout.strip()
    created = run("create-user", "--org", org, "--role", "owner", "--name", "李教授", "--email", "Li@JLU.edu.cn",
                  password=PASSWORD + "\n")
    assert created.returncode == 0 and created.stdout.strip().isdigit(), created.stderr
    short = run("create-user", "--org", org, "--role", "owner", "--name", "张", "--phone", "13800000009", password="short\n")
    assert short.returncode == 1 and short.stdout == "" and "password" in short.stderr
    again = run("create-user", "--org", org, "--role", "reader", "--name", "李", "--email", "li@jlu.edu.cn", password=PASSWORD + "\n")
    assert again.returncode == 1 and "已被其他用户使用" in again.stderr
    with TestClient(create_app(Settings(data_dir=tmp_path))) as client:
        assert sign_in(client, "li@jlu.edu.cn").status_code == 303
        assert "李教授" in client.get("/web/").text
