"""Structured adjustments a broker expects on top of text relevance, each one explained.

Text relevance (dense + BM25, fused) decides the order; these small, bounded nudges reorder
near-ties by what makes a match workable: a shared industry field, the same region when asked,
compatible cooperation modes, a price the budget can pay, maturity, freshness. Each returns a
`Factor` so the response says what moved a match and by how much.
"""

import re
from dataclasses import dataclass
from datetime import datetime, timedelta

from app.catalog.codes import FIELDS, MATURITY
from app.catalog.regions import Region
from app.database import utcnow
from app.listings.models import ListingColumns


@dataclass(frozen=True)
class Factor:
    factor: str
    effect: float
    detail: str


@dataclass(frozen=True)
class Profile:
    """The structured facts of one side of a match (a record, or a free-text query's filters)."""

    fields: tuple[str, ...] = ()
    modes: tuple[str, ...] = ()
    amount: tuple[int | None, int | None] = (None, None)
    region: str | None = None
    maturity: str | None = None
    published_at: datetime | None = None


def profile_of(record: ListingColumns) -> Profile:
    low_attr, high_attr = record.amount_attrs
    low, high = getattr(record, low_attr), getattr(record, high_attr)
    if low is None and high is None:
        low = high = getattr(record, "reward", None)
    return Profile(
        fields=tuple(record.fields),
        modes=tuple(getattr(record, record.modes_attr)),
        amount=(low if low is not None else high, high if high is not None else low),
        region=record.region_code,
        maturity=getattr(record, "maturity", None),
        published_at=record.published_at,
    )


def _fields(source: Profile, target: Profile) -> Factor | None:
    if not source.fields or not target.fields:
        return None
    shared = [code for code in target.fields if code in source.fields]
    if shared:
        return Factor("field", 0.05, "共同领域 shared field: " + "、".join(FIELDS[c] for c in shared))
    return Factor("field", -0.05, "领域不同 no shared field")


def _region(prefer: Region | None, target: Profile) -> Factor | None:
    if prefer is None or target.region is None:
        return None
    candidate = Region(target.region)
    if candidate.code == prefer.code or (prefer.level == "city" and candidate.city == prefer.city):
        return Factor("region", 0.05, f"同地区 same region: {candidate.name}")
    if prefer.level == "county" and candidate.city == prefer.city:
        return Factor("region", 0.04, f"同城市 same city: {candidate.name}")
    if candidate.province == prefer.province:
        return Factor("region", 0.02, f"同省 same province: {candidate.name}")
    return None


def _modes(source: Profile, target: Profile) -> Factor | None:
    if not source.modes or not target.modes:
        return None
    shared = [mode for mode in target.modes if mode in source.modes]
    if shared:
        return Factor("mode", 0.03, "合作方式一致 compatible mode: " + ", ".join(shared))
    return Factor("mode", -0.03, "合作方式不一致 no common cooperation mode")


def _budget(source: Profile, target: Profile) -> Factor | None:
    """Compares the demand's budget with the achievement's price, whichever side is which."""
    (s_low, s_high), (t_low, t_high) = source.amount, target.amount
    if s_low is None or s_high is None or t_low is None or t_high is None:
        return None
    if s_low <= t_high and t_low <= s_high:
        return Factor("budget", 0.03, "预算与价格区间重叠 budget and price overlap")
    return Factor("budget", -0.03, "预算与价格不匹配 budget and price do not overlap")


def _maturity(target: Profile) -> Factor | None:
    """Enterprises can use a mature result sooner; only achievements carry a maturity."""
    bonus = {"small_pilot": 0.01, "pilot": 0.02, "industrial": 0.03}.get(target.maturity or "")
    if bonus and target.maturity is not None:
        return Factor("maturity", bonus, f"成熟度 maturity: {MATURITY[target.maturity]}")
    return None


def _freshness(target: Profile, now: datetime) -> Factor | None:
    if target.published_at is None:
        return None
    age = now - target.published_at
    if age <= timedelta(days=90):
        return Factor("freshness", 0.02, "近期发布 published in the last 90 days")
    if age >= timedelta(days=730):
        return Factor("freshness", -0.02, "发布超过两年 published over two years ago")
    return None


def adjustments(source: Profile, target: Profile, prefer_region: Region | None) -> list[Factor]:
    now = utcnow()
    found = (
        _fields(source, target),
        _region(prefer_region, target),
        _modes(source, target),
        _budget(source, target),
        _maturity(target),
        _freshness(target, now),
    )
    return [factor for factor in found if factor is not None]


def highlight(text: str, terms: list[str], width: int = 160) -> str:
    """A window of `text` around the first matched term, every matched term wrapped in <em>."""
    terms = sorted({t for t in terms if t}, key=len, reverse=True)
    pattern = re.compile("|".join(map(re.escape, terms)), re.IGNORECASE) if terms else None
    first = pattern.search(text) if pattern else None
    start = max(0, first.start() - 20) if first else 0
    window = text[start : start + width]
    if pattern:
        window = pattern.sub(lambda m: f"<em>{m.group(0)}</em>", window)
    return ("…" if start else "") + window + ("…" if start + width < len(text) else "")
