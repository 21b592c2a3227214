"""Correct under concurrency: real clients on threads, released together, against a real service.

One `techmatch serve` per database (a fresh SQLite file, a fresh PostgreSQL database) serves every
case of this module. A lost update can come out right by luck in any one round, so each race is
repeated; what is checked is what a careful client may rely on however requests interleave: an
acknowledged change is never undone by a request that read the record before it, final states
stay final, rules that span fields hold, and the history is a chain of real changes.
"""

import threading
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import date, timedelta

import httpx2 as httpx
import pytest
from conftest import new_database
from live_service import LiveService, admin_headers
from payloads import SIDES

from app import migrations

pytestmark = pytest.mark.slow  # about a minute: a service start and twelve-odd rounds of each race, per database

ROUNDS = 12
CLIENTS = 8


@dataclass
class Live:
    """A running service, its keys (request headers) and one persistent HTTP client per racing thread."""

    service: LiveService
    admin: dict
    owner: dict  # the enterprise that publishes the demands
    applicants: list[dict]  # one owner key per applying organization
    clients: list[httpx.Client]
    pool: ThreadPoolExecutor

    def race(self, *calls) -> list:
        """Run each `call(client)` on its own thread and client, all released at once; their results in order."""
        barrier = threading.Barrier(len(calls))

        def run(call, client):
            barrier.wait()
            return call(client)

        futures = [self.pool.submit(run, call, client) for call, client in zip(calls, self.clients, strict=False)]
        return [future.result() for future in futures]

    @staticmethod
    def ok(response, status: int = 200) -> dict:
        assert response.status_code == status, response.text
        return response.json()

    def create(self, side: str = "demands", **overrides) -> dict:
        return self.ok(self.clients[0].post(f"/{side}", json=SIDES[side](**overrides), headers=self.owner), 201)

    def get(self, path: str) -> dict:
        return self.ok(self.clients[0].get(path, headers=self.owner))

    def history(self, record_id: int, side: str = "demands") -> list[dict]:
        return self.get(f"/{side}/{record_id}/history")


def organization(client: httpx.Client, admin: dict, name: str, kind: str) -> dict:
    """A new organization's owner key, as request headers."""
    org = client.post("/organizations", json={"name": name, "kind": kind, "region": "220102"}, headers=admin)
    assert org.status_code == 201, org.text
    key = client.post(f"/organizations/{org.json()['id']}/keys", json={"role": "owner"}, headers=admin)
    assert key.status_code == 201, key.text
    return {"Authorization": f"Bearer {key.json()['key']}"}


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def live(request, tmp_path_factory):
    folder = tmp_path_factory.mktemp(request.param)
    with new_database(request.param, folder) as url:
        migrations.upgrade(url)
        admin = admin_headers(url)
        env = {"TECHMATCH_DATABASE_URL": url, "TECHMATCH_DATA_DIR": str(folder / "data")}
        with LiveService(env) as service, ThreadPoolExecutor(CLIENTS) as pool:
            clients = [httpx.Client(base_url=service.url, timeout=60) for _ in range(CLIENTS)]
            try:
                owner = organization(clients[0], admin, "长春某汽车零部件有限公司", "enterprise")
                applicants = [organization(clients[0], admin, f"揭榜单位{n}", "university") for n in range(CLIENTS)]
                yield Live(service, admin, owner, applicants, clients, pool)
            finally:
                for client in clients:
                    client.close()


def assert_chain(entries: list[dict], key: str, start, end) -> list:
    """Each change of `key` starts from the value the previous one left, from `start` to the stored `end`.

    Returns the successive new values.
    """
    values = [start]
    for entry in entries:
        if entry["action"] in ("update", "status") and key in entry["changes"]:
            change = entry["changes"][key]
            assert change["old"] == values[-1], f"entry {entry['id']} changes {key} from {change['old']!r}, not {values[-1]!r}"
            values.append(change["new"])
    assert values[-1] == end, f"history ends at {values[-1]!r}, the record holds {end!r}"
    return values[1:]


def every_round(check, rounds: int = ROUNDS) -> None:
    """Run `check(n)` for every round, then fail saying how many broke: one round alone proves little."""
    broken = []
    for n in range(rounds):
        try:
            check(n)
        except AssertionError as error:
            broken.append(f"round {n}: {error}")
    assert not broken, f"{len(broken)} of {rounds} rounds broke; first: {broken[0]}"


def proposal(due_in_days: int) -> dict:
    due = (date.today() + timedelta(days=due_in_days)).isoformat()
    return {
        "technical_approach": "脉冲自加热与热泵耦合的电池低温热管理方案。",
        "lead": {"name": "李教授", "title": "教授"},
        "schedule": [{"title": "样机试制", "due_date": due}, {"title": "整车低温测试", "due_date": due}],
    }


def test_concurrent_awards_on_one_demand_award_exactly_one(live):
    def one_round(n: int) -> None:
        record = live.create(status="published", deliverables="低温热管理系统样机一套、测试报告")
        proposals = [
            live.ok(live.clients[0].post(f"/demands/{record['id']}/proposals", json=proposal(100), headers=key), 201)
            for key in live.applicants
        ]
        responses = live.race(
            *(lambda c, p=p: c.post(f"/proposals/{p['id']}/award", json={"amount": 1_500_000}, headers=live.owner) for p in proposals)
        )
        assert sorted(r.status_code for r in responses) == [200] + [409] * (CLIENTS - 1), [r.text for r in responses]
        assert live.get(f"/demands/{record['id']}")["status"] == "in_progress"
        moves = [e["changes"]["status"] for e in live.history(record["id"]) if e["action"] == "status"]
        assert moves == [{"old": "draft", "new": "published"}, {"old": "published", "new": "in_progress"}]
        stored = live.get(f"/demands/{record['id']}/proposals")
        assert sorted(p["status"] for p in stored) == ["awarded"] + ["not_selected"] * (CLIENTS - 1)
        assert [len(p["milestones"]) for p in stored if p["milestones"]] == [2]

    every_round(one_round)


def test_acknowledged_withdraw_is_never_undone_by_a_concurrent_publish(live):
    def one_round(n: int) -> None:
        record = live.create()
        path = f"/demands/{record['id']}"
        publish, withdraw = live.race(
            lambda c: c.post(f"{path}/publish", headers=live.owner), lambda c: c.post(f"{path}/withdraw", headers=live.owner)
        )
        # Withdrawing is allowed from draft and from published, so it wins in either order.
        assert withdraw.status_code == 200, withdraw.text
        assert publish.status_code in (200, 409), publish.text
        stored = live.get(path)
        assert stored["status"] == "withdrawn"
        moves = assert_chain(live.history(record["id"]), "status", "draft", stored["status"])
        assert moves == (["published", "withdrawn"] if publish.status_code == 200 else ["withdrawn"])

    every_round(one_round, ROUNDS * 2)


def test_patch_racing_withdraw_never_edits_a_withdrawn_record(live):
    def one_round(n: int) -> None:
        record = live.create()
        path, title = f"/demands/{record['id']}", f"改后的标题 {n}"
        patch, withdraw = live.race(
            lambda c: c.patch(path, json={"title": title}, headers=live.owner),
            lambda c: c.post(f"{path}/withdraw", headers=live.owner),
        )
        assert withdraw.status_code == 200, withdraw.text
        assert patch.status_code in (200, 409), patch.text
        stored = live.get(path)
        assert stored["status"] == "withdrawn"
        assert stored["title"] == (title if patch.status_code == 200 else record["title"])
        actions = [e["action"] for e in live.history(record["id"])]
        assert actions == (["create", "update", "status"] if patch.status_code == 200 else ["create", "status"])

    every_round(one_round, ROUNDS * 2)


def test_budget_race_refuses_one_side_so_min_stays_below_max(live):
    def one_round(n: int) -> None:
        record = live.create(budget_min=100_000, budget_max=200_000)
        path = f"/demands/{record['id']}"
        raised, lowered = live.race(
            lambda c: c.patch(path, json={"budget_min": 180_000}, headers=live.owner),
            lambda c: c.patch(path, json={"budget_max": 120_000}, headers=live.owner),
        )
        assert sorted([raised.status_code, lowered.status_code]) == [200, 422], (raised.text, lowered.text)
        stored = live.get(path)
        assert stored["budget_min"] <= stored["budget_max"]
        expected = (180_000, 200_000) if raised.status_code == 200 else (100_000, 120_000)
        assert (stored["budget_min"], stored["budget_max"]) == expected

    every_round(one_round)


def test_concurrent_title_edits_leave_a_history_chain(live):
    edits = 5

    def one_round(n: int) -> None:
        record = live.create()
        path = f"/demands/{record['id']}"

        def editor(number: int):
            titles = [f"标题 客户端{number} 第{k}次" for k in range(edits)]
            return lambda c: [c.patch(path, json={"title": t}, headers=live.owner).status_code for t in titles]

        statuses = live.race(*(editor(number) for number in range(CLIENTS)))
        assert statuses == [[200] * edits] * CLIENTS
        titles = assert_chain(live.history(record["id"]), "title", record["title"], live.get(path)["title"])
        assert len(titles) == CLIENTS * edits

    every_round(one_round, 3)


def etag(response) -> str:
    return response.headers.get("ETag")


def assert_precondition_failed(response, current: int) -> None:
    assert response.status_code == 412, response.text
    assert etag(response) == f'"{current}"'
    [problem] = response.json()["detail"]
    assert problem["loc"] == ["header", "If-Match"] and problem["type"] == "precondition_failed" and problem["msg"]


@pytest.mark.parametrize("side", SIDES)
def test_if_match_refuses_a_stale_version_and_moves_the_current_one(live, side):
    created = live.create(side)
    path, client, owner = f"/{side}/{created['id']}", live.clients[0], live.owner
    assert created["version"] == 1
    assert etag(client.get(path, headers=owner)) == '"1"'

    edited = client.patch(path, json={"title": "无条件修改"}, headers=owner)  # no If-Match: the current row, version 2
    assert live.ok(edited)["version"] == 2 and etag(edited) == '"2"'
    stale = {**owner, "If-Match": '"1"'}
    assert_precondition_failed(client.patch(path, json={"title": "基于旧版本的修改"}, headers=stale), current=2)
    assert_precondition_failed(client.post(f"{path}/publish", headers=stale), current=2)
    assert_precondition_failed(client.delete(path, headers=stale), current=2)
    unchanged = live.get(path)
    assert (unchanged["title"], unchanged["status"], unchanged["version"]) == ("无条件修改", "draft", 2)

    edited = client.patch(path, json={"title": "基于当前版本的修改"}, headers={**owner, "If-Match": '"2"'})
    assert live.ok(edited)["version"] == 3 and etag(edited) == '"3"'
    published = client.post(f"{path}/publish", headers={**owner, "If-Match": '"3"'})
    assert live.ok(published)["status"] == "published" and published.json()["version"] == 4 and etag(published) == '"4"'
    anyway = client.patch(path, json={"title": "任意版本"}, headers={**owner, "If-Match": "*"})
    assert live.ok(anyway)["version"] == 5 and etag(anyway) == '"5"'


def test_if_match_lets_exactly_one_of_concurrent_editors_win(live):
    def one_round(n: int) -> None:
        record = live.create()
        path, version = f"/demands/{record['id']}", record["version"]
        headers = {**live.owner, "If-Match": f'"{version}"'}
        responses = live.race(
            *(lambda c, e=e: c.patch(path, json={"title": f"编辑者{e}的标题"}, headers=headers) for e in range(CLIENTS))
        )
        assert sorted(r.status_code for r in responses) == [200] + [412] * (CLIENTS - 1), [r.text for r in responses]
        [winner] = [r for r in responses if r.status_code == 200]
        for loser in responses:
            if loser is not winner:
                assert_precondition_failed(loser, current=version + 1)
        stored = live.get(path)
        assert (stored["title"], stored["version"]) == (winner.json()["title"], version + 1)

    every_round(one_round)
