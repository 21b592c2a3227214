"""The yearly numbers: records, proposals, awards, brokered matches and contracts.

Every number is filtered by one region (any level, as in the list filters) and one date range
(inclusive, in China time). Records are placed by their own region; proposals, awards and
shortlist entries by their demand's; contracts by their demand's, else their achievement's.
Rows are read and counted here rather than in SQL, so the JSON list columns (fields, the
pledge) count the same way on SQLite and PostgreSQL.
"""

import csv
import io
from collections import Counter
from datetime import date, datetime, time, timedelta

from sqlalchemy import Select, and_, func, or_, select
from sqlalchemy.orm import Session, aliased

from app.achievements.models import Achievement
from app.brokerage.models import ShortlistEntry
from app.catalog.codes import FIELDS
from app.catalog.regions import Region
from app.clock import CHINA_TZ
from app.contracts.models import CONTRACT_TYPES, Contract
from app.demands.models import Demand
from app.listings.models import ListingColumns
from app.proposals.models import Proposal

# The report's two sides, named as its figures name them (records_added.demand, …).
SIDES: dict[str, type[ListingColumns]] = {"demand": Demand, "achievement": Achievement}


def _bounds(start: date | None, end: date | None) -> tuple[datetime | None, datetime | None]:
    """[from 00:00, the day after `to` 00:00) in China time."""
    low = datetime.combine(start, time.min, CHINA_TZ) if start else None
    high = datetime.combine(end + timedelta(days=1), time.min, CHINA_TZ) if end else None
    return low, high


def _within(column, low, high) -> list:
    conditions = []
    if low is not None:
        conditions.append(column >= low)
    if high is not None:
        conditions.append(column < high)
    return conditions


def _in_region(model, region: Region | None) -> list:
    return [model.in_region(region)] if region else []


def _per_field(rows) -> dict:
    counts = Counter(code for fields in rows for code in (fields or []))
    return {"total": len(rows), "by_field": dict(sorted(counts.items()))}


def _went_public(model, region: Region | None, low, high) -> list:
    """Records of `model` in `region` first published within [low, high)."""
    return [*_in_region(model, region), model.published_at.is_not(None), *_within(model.published_at, low, high)]


def _records(session: Session, region: Region | None, low, high) -> tuple[dict, dict]:
    added, active = {}, {}
    for side, model in SIDES.items():
        located = _in_region(model, region)
        added[side] = _per_field(list(session.scalars(select(model.fields).where(*_went_public(model, region, low, high)))))
        still_open = [model.status.in_(model.lifecycle.active), *_within(model.published_at, None, high)]
        active[side] = _per_field(list(session.scalars(select(model.fields).where(*located, *still_open))))
    return added, active


def _proposals(session: Session, region: Region | None, low, high) -> dict:
    demand_ids = list(
        session.scalars(
            select(Proposal.demand_id)
            .join(Demand, Demand.id == Proposal.demand_id)
            .where(*_in_region(Demand, region), *_within(Proposal.created_at, low, high))
        )
    )
    per_demand = Counter(demand_ids)
    return {
        "total": len(demand_ids),
        "demands_with_proposals": len(per_demand),
        "per_demand_average": round(len(demand_ids) / len(per_demand), 2) if per_demand else None,
        "per_demand_distribution": {str(n): demands for n, demands in sorted(Counter(per_demand.values()).items())},
    }


def _awards(session: Session, region: Region | None, low, high) -> dict:
    rows = session.execute(
        select(Proposal.pledge, Proposal.decided_at, Demand.published_at)
        .join(Demand, Demand.id == Proposal.demand_id)
        .where(Proposal.status == "awarded", *_in_region(Demand, region), *_within(Proposal.decided_at, low, high))
    ).all()
    days = [(decided - published).total_seconds() / 86400 for _, decided, published in rows if published is not None]
    return {
        "total": len(rows),
        "amount": sum((pledge or {}).get("amount") or 0 for pledge, _, _ in rows),
        "average_days_to_award": round(sum(days) / len(days), 1) if days else None,
    }


def _matches(session: Session, region: Region | None, low, high) -> dict:
    entries = session.execute(
        select(ShortlistEntry.status, ShortlistEntry.contacted_at, ShortlistEntry.negotiating_at)
        .join(Demand, Demand.id == ShortlistEntry.demand_id)
        .where(*_in_region(Demand, region), *_within(ShortlistEntry.created_at, low, high))
    ).all()
    return {
        "suggested": len(entries),
        "contacted": sum(1 for _, contacted, _ in entries if contacted is not None),
        "negotiating": sum(1 for _, _, negotiating in entries if negotiating is not None),
        "signed": sum(1 for status, _, _ in entries if status == "contract_signed"),
        "dropped": sum(1 for status, _, _ in entries if status == "dropped"),
    }


def _contracts(session: Session, region: Region | None, start: date | None, end: date | None) -> dict:
    rows = session.execute(_signed(select(Contract.contract_type, Contract.amount), region, start, end)).all()
    by_type = {kind: {"count": 0, "amount": 0} for kind in CONTRACT_TYPES}
    for kind, amount in rows:
        by_type[kind]["count"] += 1
        by_type[kind]["amount"] += amount
    return {"total": {"count": len(rows), "amount": sum(amount for _, amount in rows)}, "by_type": by_type}


def _signed(statement: Select, region: Region | None, start: date | None, end: date | None) -> Select:
    """`statement` over contracts, kept to those of `region` (by the demand's region, else the
    achievement's) signed between `start` and `end`."""
    if region:
        demand, achievement = aliased(Demand), aliased(Achievement)
        statement = (
            statement.outerjoin(demand, demand.id == Contract.demand_id)
            .outerjoin(achievement, achievement.id == Contract.achievement_id)
            .where(or_(demand.in_region(region), and_(demand.id.is_(None), achievement.in_region(region))))
        )
    if start:
        statement = statement.where(Contract.signed_on >= start)
    if end:
        statement = statement.where(Contract.signed_on <= end)
    return statement


def compute(session: Session, *, region: Region | None, start: date | None, end: date | None) -> dict:
    """Every number of the report, nested by metric."""
    low, high = _bounds(start, end)
    added, active = _records(session, region, low, high)
    return {
        "filters": {"region": region.code if region else None, "from": start, "to": end},
        "records_added": added,
        "records_active": active,
        "proposals": _proposals(session, region, low, high),
        "awards": _awards(session, region, low, high),
        "matches": _matches(session, region, low, high),
        "contracts": _contracts(session, region, start, end),
    }


def totals(session: Session, *, region: Region | None, start: date | None, end: date | None) -> dict[str, int]:
    """Records published per side and contracts signed: the figures `compute` gives as
    records_added.<side>.total and contracts.total.count, without the rest of the report, for
    charts that need them for many regions or periods."""
    low, high = _bounds(start, end)
    counts = {
        side: session.scalar(select(func.count()).select_from(model).where(*_went_public(model, region, low, high))) or 0
        for side, model in SIDES.items()
    }
    contracts = session.scalar(_signed(select(func.count()).select_from(Contract), region, start, end)) or 0
    return {**counts, "contracts": contracts}


def _leaves(value, path: tuple[str, ...]):
    if isinstance(value, dict):
        for key, inner in value.items():
            yield from _leaves(inner, (*path, str(key)))
    else:
        yield path, value


# Chinese labels of the metric and dimension codes, for the CSV an office opens in Excel.
METRIC_LABELS = {
    "records_added": "新发布记录", "records_active": "有效记录", "proposals": "揭榜方案", "awards": "授榜",
    "matches": "撮合推荐", "contracts": "技术合同",
}
DIMENSION_LABELS = {
    **FIELDS, **CONTRACT_TYPES,
    "demand": "技术需求", "achievement": "科技成果", "total": "合计", "by_field": "按领域", "by_type": "按合同类型",
    "demands_with_proposals": "有方案的需求数", "per_demand_average": "每项需求平均方案数",
    "per_demand_distribution": "每项需求方案数分布", "amount": "金额(元)", "count": "数量",
    "average_days_to_award": "发布到授榜平均天数", "suggested": "推荐", "contacted": "已联系", "negotiating": "洽谈",
    "signed": "签约", "dropped": "放弃",
}
CSV_HEADER = ["指标", "维度", "数值", "metric", "dimension"]


def to_csv(stats: dict) -> bytes:
    """The same numbers as flat rows, UTF-8 with a BOM so Excel opens it.

    Columns: 指标 and 维度 in Chinese, 数值, then the metric and dimension codes, so scripts can
    keep selecting rows by code. A number in a dimension (a count of proposals per demand) is its own label.
    """
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(CSV_HEADER)
    for metric, value in stats.items():
        if metric == "filters":
            continue
        for path, number in _leaves(value, ()):
            label = "/".join(DIMENSION_LABELS.get(part, part) for part in path)
            writer.writerow([METRIC_LABELS[metric], label, "" if number is None else number, metric, "/".join(path)])
    return ("\ufeff" + buffer.getvalue()).encode("utf-8")
