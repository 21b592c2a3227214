"""Standing matchmaking: strong new matches are announced once to the parties and their brokers, weak
ones to nobody; imports and the daily cap go to one digest per organization; saved searches send
only what is new; opt-outs and unsubscribing work. Real encoder, real database, a real webhook receiver."""

import json
import time
from collections import Counter
from datetime import timedelta

import pytest
from conftest import World
from payloads import achievement, demand
from sqlalchemy import select, update
from test_imports import DEMAND_HEADER, demand_row, upload, xlsx
from test_webhooks import Receiver

from app.changelog import last_seq
from app.clock import china_today
from app.database import session_scope
from app.dispatch import service
from app.dispatch.mail import DigestMailWorker
from app.dispatch.models import AnnouncedMatch, DigestItem, DispatchCursor
from app.dispatch.worker import DispatchWorker
from app.matching import store
from app.matching.keeper import IndexKeeper
from app.notifications.models import Notification

API = "/api/v1"
# A demand of the chemicals industry that no battery achievement answers.
UNRELATED = demand(
    title="聚丙烯装置催化剂活性下降", description="石化企业聚丙烯装置催化剂活性逐月下降，需要催化剂再生与工艺优化方案。",
    fields=["petrochemical"], keywords=["催化剂", "聚丙烯"],
)


# The achievement that answers the standard demand (payloads.demand) in its own words: a strong match.
ANSWER = achievement(
    title="纯电动乘用车冬季续航衰减的电池低温热管理方案", keywords=["续航衰减", "电池低温热管理"],
    abstract="针对纯电动乘用车在-20℃环境下续航里程衰减超过40%的问题，研制电池低温热管理方案，冬季续航衰减降至15%。",
)
# Another answer, published later.
SECOND_ANSWER = achievement(
    title="电动汽车电池低温预热与热泵热管理系统", keywords=["续航衰减", "电池低温热管理"],
    abstract="面向电动汽车冬季低温续航衰减，研制电池低温预热与热泵热管理系统，续航衰减降低一半。",
)
FARMING = achievement(
    title="玉米秸秆还田与黑土地保护技术", abstract="秸秆深翻还田提升黑土有机质。", keywords=["秸秆"], fields=["agriculture"]
)


class Dispatcher:
    """What the worker role runs: an index keeper, the dispatch worker following it, and the digest mails' worker.

    The service's own keeper by default (as in the `all` role; it saves encoding everything
    twice), or with `fresh=True` a new one opened from the data directory, as a restarted worker
    process would.
    """

    def __init__(self, app, fresh: bool = False, **settings):
        self.app = app
        config = app.state.settings.model_copy(update=settings)
        self.keeper = IndexKeeper.open(config, app.state.session_factory) if fresh else app.state.index_keeper
        self.worker = DispatchWorker(app.state.session_factory, config, self.keeper)
        self.mail = DigestMailWorker(app.state.session_factory, config) if config.smtp_host else None

    def run(self) -> int:
        self.keeper.catch_up()
        return self.worker.run_once() + (self.mail.run_once() if self.mail else 0)

    def notifications(self, org_id: int, kind: str | None = None) -> list[Notification]:
        with session_scope(self.app.state.session_factory, read_only=True) as session:
            statement = select(Notification).where(Notification.org_id == org_id).order_by(Notification.id)
            if kind:
                statement = statement.where(Notification.kind == kind)
            return list(session.scalars(statement))


@pytest.fixture
def dispatcher(client, app) -> Dispatcher:
    return Dispatcher(app)


def assigned_broker(world: World) -> tuple[int, dict]:
    """A broker agency acting only for enterprise A (admin-assigned)."""
    org_id, key = world.organization("长春某技术经纪公司", "broker_agency", "220100", "broker", broker_scope="assigned")
    body = {"broker_org_id": org_id, "org_id": world.ent_a_id}
    response = world.client.post(f"{API}/brokerage/assignments", json=body, headers=world.admin)
    assert response.status_code == 201, response.text
    return org_id, key


def post(world: World, side: str, body: dict, key: dict) -> int:
    response = world.client.post(f"{API}/{side}", json={**body, "status": "published"}, headers=key)
    assert response.status_code == 201, response.text
    return response.json()["id"]


def test_a_strong_match_is_announced_once_to_the_owner_and_assigned_broker_weak_ones_to_nobody(world, app, dispatcher):
    broker_id, _ = assigned_broker(world)
    receiver = Receiver([])
    try:
        hook = {"url": receiver.url, "secret": "s3cret-for-the-local-receiver", "allow_private": True}
        assert world.client.put(f"{API}/organizations/{world.ent_a_id}/webhook", json=hook, headers=world.admin).status_code == 200
        demand_id = post(world, "demands", demand(), world.ent_a)
        unrelated_id = post(world, "demands", UNRELATED, world.ent_b)
        dispatcher.run()
        assert dispatcher.notifications(world.ent_a_id) == []  # no achievement yet

        achievement_id = post(world, "achievements", ANSWER, world.uni)
        dispatcher.run()
        shown = world.client.get(f"{API}/achievements/{achievement_id}/matches", params={"include_weak": True}, headers=world.uni).json()
        rated = {item["id"]: (item["relevance"], item["band"]) for item in shown["items"]}
        assert rated[demand_id][1] == "strong" and rated[unrelated_id][1] == "weak", rated

        (owner_notice,) = dispatcher.notifications(world.ent_a_id)
        (broker_notice,) = dispatcher.notifications(broker_id)
        expected = {"demand_id": demand_id, "achievement_id": achievement_id, "relevance": rated[demand_id][0], "band": "strong"}
        for notice in (owner_notice, broker_notice):
            assert notice.kind == "new_match" and (notice.entity_type, notice.entity_id) == ("achievement", achievement_id)
            assert expected.items() <= notice.data.items()
            assert f"科技成果 {achievement_id}" in notice.message and f"技术需求 {demand_id}" in notice.message
            assert f"{rated[demand_id][0]:.2f}" in notice.message
        assert "贵机构的技术需求" in owner_notice.message
        for org_id in (world.ent_b_id, world.uni_id, world.broker_org_id):  # weak pair; the new record's owner; unassigned broker
            assert dispatcher.notifications(org_id) == []
        listed = world.client.get(f"{API}/notifications", headers=world.ent_a).json()["items"]
        assert listed[0]["data"]["achievement_id"] == achievement_id

        # The same pair is never announced again: not after an edit, not by a worker restarted from scratch.
        edited = ANSWER["abstract"] + "样机已在长春完成冬季实车验证。"
        assert world.client.patch(f"{API}/achievements/{achievement_id}", json={"abstract": edited}, headers=world.uni).status_code == 200
        dispatcher.run()
        with session_scope(app.state.session_factory) as session:  # replay the whole log: the pair table still says no
            session.execute(update(DispatchCursor).values(seq=0))
        Dispatcher(app, fresh=True).run()
        assert len(dispatcher.notifications(world.ent_a_id)) == 1 and len(dispatcher.notifications(broker_id)) == 1

        # A withdrawn demand is never announced, even for a new achievement that answers it.
        assert world.client.post(f"{API}/demands/{demand_id}/withdraw", headers=world.ent_a).status_code == 200
        post(world, "achievements", {**ANSWER, "title": "纯电动乘用车冬季续航衰减的电池低温热管理技术"}, world.uni)
        dispatcher.run()
        assert len(dispatcher.notifications(world.ent_a_id)) == 1

        # The webhook received the same event, with the same data.
        deadline = time.monotonic() + 20
        while not receiver.requests and time.monotonic() < deadline:
            time.sleep(0.05)
        bodies = [json.loads(body) for _, body in receiver.requests]
        assert [body["event"] for body in bodies] == ["new_match"]
        assert bodies[0]["notification"]["id"] == owner_notice.id and bodies[0]["notification"]["data"] == owner_notice.data
    finally:
        receiver.close()


def finished_import(world: World, content: bytes, seconds: float = 900) -> dict:
    """Upload a demand list and wait for its job: 2,000 rows take minutes on a busy machine."""
    response = upload(world, "demands", content)
    assert response.status_code == 202, response.text
    url, deadline = f"{API}/imports/{response.json()['id']}", time.monotonic() + seconds
    while (job := world.client.get(url, headers=world.ent_a).json())["status"] not in ("done", "failed"):
        assert time.monotonic() < deadline, job
        time.sleep(0.5)
    return job


def settle(app, dispatcher: Dispatcher, seconds: float = 600) -> None:
    """Run the dispatcher until every record is encoded and every change announced.

    The service's own background workers encode the imported records and dispatch meanwhile (an
    import is `done` when its rows are written, not encoded), so what waits for the digest is
    counted only once nothing is left to do.
    """
    deadline = time.monotonic() + seconds
    while True:
        dispatcher.run()
        with session_scope(app.state.session_factory, read_only=True) as session:
            encoder = dispatcher.keeper.engine.encoder.name
            unencoded = [side for side in ("demands", "achievements") if store.missing(session, side=side, encoder=encoder, limit=1)]
            behind = any(dispatcher.keeper.pending(session).values())
            unannounced = service.cursor_position(session) < last_seq(session)
        if not (unencoded or behind or unannounced):
            return
        assert time.monotonic() < deadline, (unencoded, behind, unannounced)
        time.sleep(0.5)


@pytest.mark.slow  # a 2,000-row import encoded and matched on each database: minutes
def test_a_2000_row_import_yields_one_digest_per_organization(world, app, dispatcher):
    broker_id, _ = assigned_broker(world)
    achievement_id = post(world, "achievements", ANSWER, world.uni)
    dispatcher.run()
    rows = [DEMAND_HEADER] + [demand_row(n) for n in range(2000)]
    job = finished_import(world, xlsx(rows))
    assert (job["status"], job["created"]) == ("done", 2000), job
    settle(app, dispatcher)
    with session_scope(app.state.session_factory, read_only=True) as session:
        pairs = session.scalar(select(AnnouncedMatch.id).where(AnnouncedMatch.achievement_id == achievement_id).limit(1))
        waiting = Counter((item.org_id, item.reason) for item in session.scalars(select(DigestItem)))
    count = waiting[world.uni_id, "import"]
    assert pairs is not None and waiting == {(world.uni_id, "import"): count, (broker_id, "import"): count} and count > 50, waiting
    assert dispatcher.notifications(world.uni_id) == [] and dispatcher.notifications(broker_id) == []

    with session_scope(app.state.session_factory) as session:  # nothing is sent before the day is over
        assert service.send_digests(session, today=china_today()) == 0
    with session_scope(app.state.session_factory) as session:
        assert service.send_digests(session, today=china_today() + timedelta(days=1)) == 2
    for org_id in (world.uni_id, broker_id):
        (digest,) = dispatcher.notifications(org_id)
        assert digest.kind == "match_digest" and digest.data["total"] == count
        relevances = [pair["relevance"] for pair in digest.data["pairs"]]
        assert relevances == sorted(relevances, reverse=True) and all(pair["reason"] == "import" for pair in digest.data["pairs"])
    assert dispatcher.notifications(world.ent_a_id) == []  # the importer's own records are not news to it


def test_matches_beyond_the_daily_cap_wait_for_the_digest(world, app):
    dispatcher = Dispatcher(app, dispatch_daily_cap=1)
    for body in (ANSWER, FARMING, achievement()):  # a small library, so that the lexical statistics mean something
        post(world, "achievements", body, world.uni)
    dispatcher.run()
    for title in ("新能源汽车冬季续航衰减问题", "纯电动乘用车冬季续航衰减", "电动汽车冬季低温续航衰减问题"):
        post(world, "demands", demand(title=title), world.ent_a)
    dispatcher.run()
    notices = dispatcher.notifications(world.uni_id)
    with session_scope(app.state.session_factory) as session:
        waiting = list(session.scalars(select(DigestItem.reason).where(DigestItem.org_id == world.uni_id)))
        sent = service.send_digests(session, today=china_today() + timedelta(days=1))
    assert [n.kind for n in notices] == ["new_match"] and waiting and set(waiting) == {"cap"} and sent == 1
    assert dispatcher.notifications(world.uni_id, "match_digest")[0].data["total"] == len(waiting)


def test_opting_out_silences_a_kind_for_one_organization(world, app, dispatcher):
    broker_id, broker = assigned_broker(world)
    url = f"{API}/organizations/{world.ent_a_id}/dispatch-settings"
    expected = {"new_match": True, "match_digest": True, "saved_search": True, "digest_emails": []}
    assert world.client.get(url, headers=world.ent_a).json() == expected
    assert world.client.put(url, json={"new_match": False}, headers=broker).status_code == 403
    assert world.client.put(url, json={"new_match": "sometimes"}, headers=world.ent_a).status_code == 422
    assert world.client.get(f"{API}/organizations/999999/dispatch-settings", headers=world.admin).status_code == 404
    response = world.client.put(url, json={"new_match": False}, headers=world.ent_a)
    assert response.status_code == 200 and response.json()["new_match"] is False
    post(world, "demands", demand(), world.ent_a)
    post(world, "achievements", ANSWER, world.uni)
    dispatcher.run()
    assert dispatcher.notifications(world.ent_a_id) == []
    assert [n.kind for n in dispatcher.notifications(broker_id)] == ["new_match"]


def test_a_saved_search_sends_only_what_is_new_until_unsubscribed(world, app, dispatcher):
    first = post(world, "achievements", ANSWER, world.uni)
    body = {"name": "电池低温技术", "target": "achievements", "text": "动力电池低温热管理 冬季续航", "frequency": "immediately"}
    assert world.client.post(f"{API}/saved-searches", json={**body, "frequency": "hourly"}, headers=world.ent_b).status_code == 422
    bad_filter = {**body, "filters": {"maturity": ["someday"]}}
    response = world.client.post(f"{API}/saved-searches", json=bad_filter, headers=world.ent_b)
    assert response.status_code == 422 and response.json()["detail"][0]["loc"][:2] == ["body", "filters"]
    assert world.client.post(f"{API}/saved-searches", json=body, headers=world.reader).status_code == 403
    response = world.client.post(f"{API}/saved-searches", json=body, headers=world.ent_b)
    assert response.status_code == 201, response.text
    search_id = response.json()["id"]
    time.sleep(0.01)  # the first run is due strictly after the search was saved

    dispatcher.run()
    (notice,) = dispatcher.notifications(world.ent_b_id, "saved_search")
    assert [r["id"] for r in notice.data["results"]] == [first] and notice.entity_id == search_id

    second = post(world, "achievements", SECOND_ANSWER, world.uni)
    post(world, "achievements", FARMING, world.uni)
    time.sleep(0.01)
    dispatcher.run()
    notices = dispatcher.notifications(world.ent_b_id, "saved_search")
    assert len(notices) == 2 and [r["id"] for r in notices[1].data["results"]] == [second]
    time.sleep(0.01)
    dispatcher.run()
    assert len(dispatcher.notifications(world.ent_b_id, "saved_search")) == 2  # nothing new, nothing sent

    assert [s["id"] for s in world.client.get(f"{API}/saved-searches", headers=world.ent_b).json()] == [search_id]
    assert world.client.delete(f"{API}/saved-searches/{search_id}", headers=world.ent_a).status_code == 404
    assert world.client.delete(f"{API}/saved-searches/{search_id}", headers=world.ent_b).status_code == 204
    post(world, "achievements", {**SECOND_ANSWER, "title": "电动汽车电池低温自加热与热泵热管理系统"}, world.uni)
    time.sleep(0.01)
    dispatcher.run()
    assert len(dispatcher.notifications(world.ent_b_id, "saved_search")) == 2
    assert world.client.get(f"{API}/saved-searches", headers=world.ent_b).json() == []


def test_saved_searches_run_in_one_batch_rate_new_records_as_post_match_does(world, app, dispatcher):
    post(world, "achievements", FARMING, world.uni)
    texts = {"电池": "动力电池低温热管理 冬季续航", "秸秆": "秸秆还田 黑土地保护", "无关": "聚丙烯催化剂再生"}
    for name, text in texts.items():
        body = {"name": name, "target": "achievements", "text": text, "frequency": "immediately", "min_band": "possible"}
        assert world.client.post(f"{API}/saved-searches", json=body, headers=world.ent_b).status_code == 201
    time.sleep(0.01)
    dispatcher.run()  # the first runs, over the whole list
    first = len(dispatcher.notifications(world.ent_b_id, "saved_search"))
    new = [post(world, "achievements", body, world.uni) for body in (ANSWER, SECOND_ANSWER, achievement())]
    post(world, "achievements", {**FARMING, "title": "黑土地秸秆深翻还田技术"}, world.uni)
    time.sleep(0.01)
    dispatcher.run()  # the later runs: one batch over the four new records
    later = dispatcher.notifications(world.ent_b_id, "saved_search")[first:]
    assert len(later) >= 2, [n.message for n in later]
    names = {notice.entity_id: notice for notice in later}
    assert len(names) == len(later)  # one notice per search and run
    searches = {s["id"]: s["text"] for s in world.client.get(f"{API}/saved-searches", headers=world.ent_b).json()}
    for search_id, notice in names.items():
        text = searches[search_id]
        shown = world.client.post(
            f"{API}/match", json={"text": text, "target": "achievements", "k": 50, "include_weak": True}, headers=world.ent_b
        ).json()
        expected = {item["id"]: item["relevance"] for item in shown["items"]}
        sent = {result["id"]: result["relevance"] for result in notice.data["results"]}
        assert sent and all(abs(expected[i] - r) <= 1e-4 for i, r in sent.items()), (text, sent, expected)
        # Every new record that the endpoint rates `possible` or better was sent, nothing older.
        wanted = {i for i, r in expected.items() if r >= service.BAND_FLOOR["possible"] and i >= min(new)}
        assert set(sent) == wanted, (text, sent, expected)
