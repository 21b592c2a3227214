"""Statistics: one demand walked from draft to completed, a brokered pair signed, and the numbers checked exactly."""

from datetime import datetime, timedelta

from payloads import achievement, demand
from sqlalchemy import select, update

from app.clock import CHINA_TZ
from app.database import session_scope
from app.demands.models import Demand
from app.proposals.models import Proposal

API = "/api/v1"
TODAY = datetime.now(CHINA_TZ).date()


def ok(response, status: int = 200):
    assert response.status_code == status, response.text
    return response.json() if "json" in response.headers["content-type"] else response


def post(world, path: str, key, body=None, status: int = 200) -> dict:
    return ok(world.client.post(f"{API}{path}", json=body, headers=key), status)


def stats(world, key=None, **params) -> dict:
    response = ok(world.client.get(f"{API}/stats", params=params, headers=key or world.reader))
    response.pop("filters")
    return response


def proposal(world, demand_id: int, key, lead: str) -> dict:
    body = {
        "technical_approach": "脉冲自加热与热泵耦合的电池低温热管理方案。",
        "lead": {"name": lead},
        "budget": 1_800_000,
        "schedule": [{"title": "样机试制", "due_date": "2099-06-30"}, {"title": "整车低温测试", "due_date": "2099-10-31"}],
    }
    return post(world, f"/demands/{demand_id}/proposals", key, body, 201)


def published_ten_days_before_the_award(app, demand_id: int) -> None:
    with session_scope(app.state.session_factory) as session:
        decided_at = session.scalar(select(Proposal.decided_at).where(Proposal.demand_id == demand_id, Proposal.status == "awarded"))
        session.execute(update(Demand).where(Demand.id == demand_id).values(published_at=decided_at - timedelta(days=10)))


def by_type(**amounts) -> dict:
    counts = {kind: {"count": 0, "amount": 0} for kind in ("development", "transfer", "licensing", "service", "consulting")}
    for kind, amount in amounts.items():
        counts[kind] = {"count": 1, "amount": amount}
    return counts


def test_a_demand_from_draft_to_completed_and_a_signed_pair_show_in_the_statistics(world, app):
    offer = post(world, "/achievements", world.uni, achievement(status="published"), 201)  # 220102, new_energy
    post(world, "/achievements", world.uni, achievement(title="未发布的成果"), 201)  # a draft counts nowhere
    call = demand(deliverables="低温热管理系统样机一套", application_deadline="2099-01-01")
    draft = post(world, "/demands", world.ent_a, call, 201)  # 220104, automotive + new_energy
    assert draft["status"] == "draft"
    post(world, f"/demands/{draft['id']}/publish", world.ent_a)
    other = post(world, "/demands", world.ent_b, demand(status="published", region="220202", fields=["petrochemical"]), 201)

    # Two competing proposals; the university wins, enterprise B is not selected.
    winner = proposal(world, draft["id"], world.uni, "李教授")
    loser = proposal(world, draft["id"], world.ent_b, "赵工")
    proposal(world, other["id"], world.uni, "李教授")
    post(world, f"/proposals/{winner['id']}/award", world.ent_a, {"amount": 1_500_000})
    assert ok(world.client.get(f"{API}/proposals/{loser['id']}", headers=world.ent_b))["status"] == "not_selected"
    published_ten_days_before_the_award(app, draft["id"])
    for number in (1, 2):
        post(world, f"/proposals/{winner['id']}/milestones/{number}/report", world.uni, {"report": "完成"})
        post(world, f"/proposals/{winner['id']}/milestones/{number}/accept", world.ent_a)
    assert post(world, f"/demands/{draft['id']}/complete", world.ent_a, {"reason": "验收通过"})["status"] == "completed"
    contract = {"contract_type": "development", "amount": 1_500_000, "signed_on": TODAY.isoformat(), "proposal_id": winner["id"]}
    post(world, "/contracts", world.ent_a, contract, 201)

    # The broker pairs the achievement with both demands: one is signed, one dropped.
    signed = post(world, "/brokerage/shortlist", world.broker, {"demand_id": other["id"], "achievement_id": offer["id"]}, 201)
    post(world, "/brokerage/shortlist", world.broker, {"demand_id": other["id"], "achievement_id": offer["id"]}, 409)  # one per broker org
    dropped = post(world, "/brokerage/shortlist", world.admin, {"demand_id": other["id"], "achievement_id": offer["id"]}, 201)
    for stage in ("contacted", "negotiating"):
        post(world, f"/brokerage/shortlist/{signed['id']}/status", world.broker, {"status": stage})
    post(world, f"/brokerage/shortlist/{dropped['id']}/status", world.admin, {"status": "dropped", "reason": "企业暂无预算"})
    contract = {"contract_type": "licensing", "amount": 1_200_000, "signed_on": TODAY.isoformat(), "shortlist_entry_id": signed["id"]}
    post(world, "/contracts", world.broker, contract, 201)

    assert stats(world) == {
        "records_added": {
            "demand": {"total": 2, "by_field": {"automotive": 1, "new_energy": 1, "petrochemical": 1}},
            "achievement": {"total": 1, "by_field": {"new_energy": 1}},
        },
        "records_active": {
            "demand": {"total": 1, "by_field": {"petrochemical": 1}},  # the completed one is closed
            "achievement": {"total": 1, "by_field": {"new_energy": 1}},
        },
        "proposals": {"total": 3, "demands_with_proposals": 2, "per_demand_average": 1.5, "per_demand_distribution": {"1": 1, "2": 1}},
        "awards": {"total": 1, "amount": 1_500_000, "average_days_to_award": 10.0},
        "matches": {"suggested": 2, "contacted": 1, "negotiating": 1, "signed": 1, "dropped": 1},
        "contracts": {"total": {"count": 2, "amount": 2_700_000}, "by_type": by_type(development=1_500_000, licensing=1_200_000)},
    }
    # 吉林市 (220200): enterprise B's demand, its proposal and both pairs; the licensing contract is placed by that demand.
    jilin = stats(world, world.admin, region="220200")
    assert jilin["records_added"]["demand"]["total"] == 1 and jilin["records_added"]["achievement"]["total"] == 0
    assert jilin["proposals"] == {"total": 1, "demands_with_proposals": 1, "per_demand_average": 1.0, "per_demand_distribution": {"1": 1}}
    assert jilin["awards"] == {"total": 0, "amount": 0, "average_days_to_award": None}
    assert jilin["matches"] == {"suggested": 2, "contacted": 1, "negotiating": 1, "signed": 1, "dropped": 1}
    assert jilin["contracts"]["total"] == {"count": 1, "amount": 1_200_000}
    # 长春市 (220100), the province (220000) and a county (220104) at their own levels.
    changchun = stats(world, world.broker, region="220100")
    assert changchun["proposals"]["per_demand_distribution"] == {"2": 1} and changchun["awards"]["total"] == 1
    assert changchun["matches"]["suggested"] == 0 and changchun["contracts"]["by_type"] == by_type(development=1_500_000)
    assert stats(world, region="220000")["contracts"]["total"]["count"] == 2
    assert stats(world, world.ent_a, region="220104")["records_added"]["achievement"]["total"] == 0
    # A range from three days ago leaves out the demand published ten days ago; one ending yesterday leaves out everything.
    recent = stats(world, **{"from": (TODAY - timedelta(days=3)).isoformat(), "to": TODAY.isoformat()})
    assert recent["records_added"]["demand"]["total"] == 1 and recent["awards"]["total"] == 1
    past = stats(world, to=(TODAY - timedelta(days=1)).isoformat())
    assert past["proposals"]["total"] == past["matches"]["suggested"] == past["contracts"]["total"]["count"] == 0
    assert past["records_active"]["demand"]["total"] == 0

    sheet = ok(world.client.get(f"{API}/stats", params={"format": "csv"}, headers=world.reader))
    assert sheet.headers["content-type"].startswith("text/csv") and sheet.content.startswith("\ufeff".encode())
    rows = [line.split(",") for line in sheet.content.decode("utf-8-sig").splitlines()]
    assert rows[0] == ["指标", "维度", "数值", "metric", "dimension"]
    for row in (
        ["新发布记录", "技术需求/按领域/汽车及零部件", "1", "records_added", "demand/by_field/automotive"],
        ["揭榜方案", "每项需求平均方案数", "1.5", "proposals", "per_demand_average"],
        ["揭榜方案", "每项需求方案数分布/2", "1", "proposals", "per_demand_distribution/2"],
        ["授榜", "发布到授榜平均天数", "10.0", "awards", "average_days_to_award"],
        ["撮合推荐", "签约", "1", "matches", "signed"],
        ["技术合同", "按合同类型/技术许可/金额(元)", "1200000", "contracts", "by_type/licensing/amount"],
    ):
        assert row in rows, row
    assert len(rows) == 1 + 6 + 4 + 5 + 3 + 5 + 12  # the header, then every number of the JSON once
    assert world.client.get(f"{API}/stats", params={"from": "2026-02-01", "to": "2026-01-01"}, headers=world.reader).status_code == 422
