"""Two-way matching (双向匹配): hard filters, hybrid retrieval, structured adjustments, explanations.

Hard filters become the set of allowed ids *before* retrieval, so a filter never empties a
top-k that was cut first. Candidates are re-read from the database and anything no longer
published is dropped, so a withdrawn record cannot appear even while the index catches up.

Every match carries an absolute `relevance` and its `band` (relevance.py). When no candidate
reaches the `possible` band the result says "no good match" and, unless the caller asks for the
weak ones, lists nothing: a broker should not forward the least bad of a weak lot.
"""

from typing import Any, TypedDict

from pydantic import BaseModel, ValidationError
from sqlalchemy import select
from sqlalchemy.orm import Session

from app.achievements.models import Achievement
from app.achievements.schemas import AchievementFilters, AchievementRead
from app.auth import Principal
from app.catalog.regions import Region
from app.demands.models import Demand
from app.demands.schemas import DemandFilters, DemandRead
from app.errors import InvalidInput
from app.listings import service as listings
from app.listings.models import ListingColumns
from app.listings.schemas import ListingFilters
from app.matching.engine import Match
from app.matching.keeper import IndexKeeper
from app.matching.ranking import Profile, adjustments, highlight, profile_of
from app.matching.relevance import POSSIBLE, band, relevance
from app.matching.schemas import MATCH_OPTIONS, DuplicateWarning, MatchQuery
from app.matching.text import document_text
from app.sides import OTHER_SIDE

# Each side: its table, its filter schema and the schema a record is returned as.
SIDES: dict[str, tuple[type[ListingColumns], type[ListingFilters], type[BaseModel]]] = {
    "demands": (Demand, DemandFilters, DemandRead),
    "achievements": (Achievement, AchievementFilters, AchievementRead),
}
DUPLICATE_SIMILARITY = 0.95
NO_RECORD_PASSES = "没有符合筛选条件的已发布记录 / no published record passes the filters"


class MatchResult(TypedDict):
    """The ranked matches of one request and whether any of them is worth forwarding."""

    items: list[dict[str, Any]]
    no_good_match: bool
    reason: str | None


def _nothing(reason: str) -> MatchResult:
    return {"items": [], "no_good_match": True, "reason": reason}


def parse_filters(target: str, filters: dict[str, Any]) -> ListingFilters:
    """The target list's filter model from a JSON object; errors point into `filters`."""
    try:
        return SIDES[target][1].model_validate(filters)
    except ValidationError as error:
        first = error.errors()[0]
        raise InvalidInput(first["msg"], ["body", "filters", *first["loc"]]) from None


def _allowed_ids(session: Session, target: str, filters: ListingFilters) -> list[int] | None:
    """None when no filter is set (everything indexed is published and allowed)."""
    if not filters.model_fields_set - MATCH_OPTIONS:
        return None
    return listings.published_ids(session, model=SIDES[target][0], filters=filters)


def match_record(
    session: Session, keeper: IndexKeeper, *, side: str, record_id: int, query: MatchQuery, actor: Principal,
) -> MatchResult:
    """Records of the other side for one stored record (its own drafts included, for its owner).

    `query` holds the target list's filters and the options `k`, `prefer_region` and `include_weak`.
    """
    filters, k, prefer_region = query, query.k, query.prefer_region
    record = listings.get_visible_or_raise(session, model=SIDES[side][0], record_id=record_id, actor=actor)
    keeper.refresh(session)
    allowed = _allowed_ids(session, OTHER_SIDE[side], filters)
    if allowed == []:
        return _nothing(NO_RECORD_PASSES)
    return _rank_record(session, keeper, side, record, allowed, prefer_region, k, query.include_weak)


def counterparts(session: Session, keeper: IndexKeeper, *, side: str, record: ListingColumns, k: int) -> MatchResult:
    """The best `k` published records of the other side for a stored record, weak ones included,
    ranked and rated exactly as `match_record` rates them with no filter (the dispatcher's view).

    The caller has checked the record is one it may match; the index is not refreshed here.
    """
    return _rank_record(session, keeper, side, record, None, None, k, True)


def _rank_record(
    session: Session, keeper: IndexKeeper, side: str, record: ListingColumns, allowed: list[int] | None, prefer_region: str | None,
    k: int, include_weak: bool,
) -> MatchResult:
    target = OTHER_SIDE[side]
    pool = _pool_size(k)
    text = document_text(*record.searchable_text())
    try:
        candidates = keeper.engine.search_like(target, side, record.id, k=pool, allowed_ids=allowed)
    except KeyError:  # not indexed: a draft, or not yet caught up
        candidates = keeper.engine.search_text(target, text, k=pool, allowed_ids=allowed)
    return _rank(session, target, candidates, profile_of(record), text, prefer_region, k, include_weak)


def match_text(
    session: Session, keeper: IndexKeeper, *, text: str, target: str, filters: ListingFilters, k: int,
    prefer_region: str | None, include_weak: bool = False,
) -> MatchResult:
    """Records of `target` for free text (brokers, partner platforms)."""
    keeper.refresh(session)
    allowed = _allowed_ids(session, target, filters)
    return rank_text(
        session, keeper, text=text, target=target, allowed=allowed, k=k, prefer_region=prefer_region, include_weak=include_weak
    )


def rank_text(
    session: Session, keeper: IndexKeeper, *, text: str, target: str, allowed: list[int] | None, k: int,
    prefer_region: str | None = None, include_weak: bool = False,
) -> MatchResult:
    """Free text ranked among `allowed` records of `target` (all when None), as `match_text` ranks it.

    Saved searches pass the few records published since their last run, so a run costs one
    query over those, not over the whole list.
    """
    if allowed == []:
        return _nothing(NO_RECORD_PASSES)
    candidates = keeper.engine.search_text(target, text, k=_pool_size(k), allowed_ids=allowed)
    return _rank(session, target, candidates, Profile(), keeper.engine.query_text(target, text), prefer_region, k, include_weak)


def _pool_size(k: int) -> int:
    """Adjustments may reorder near-ties, so rank more candidates than asked."""
    return min(max(3 * k, 30), 300)


def _rank(
    session: Session, target: str, candidates: list[Match], source: Profile, source_text: str, prefer_region: str | None,
    k: int, include_weak: bool,
) -> MatchResult:
    """Adjust and re-sort the candidates that are still published; rate and explain the best k.

    "No good match" when none of the best k reaches the `possible` band; the items are then
    listed only if `include_weak` asks for them.
    """
    model, _, read = SIDES[target]
    ids = [candidate.id for candidate in candidates]
    records = {r.id: r for r in session.scalars(select(model).where(model.id.in_(ids), model.status == "published"))}
    region = Region(prefer_region) if prefer_region else None
    scored = []
    for candidate in candidates:
        record = records.get(candidate.id)
        if record is None:
            continue
        profile = profile_of(record)
        factors = adjustments(source, profile, region)
        scored.append((candidate.score + sum(f.effect for f in factors), candidate, record, profile, factors))
    if not scored:
        return _nothing(NO_RECORD_PASSES)
    # Sorted before `score` is clipped to [0, 1]: the best text matches of a long query or a record
    # both score 1 (nothing propagated lowers them), and their adjustments must still order them.
    scored.sort(key=lambda item: item[0], reverse=True)
    del scored[k:]
    rated = {c.id: round(relevance(c.dense_score, c.lexical_coverage, c.bm25_score), 4) for _, c, *_ in scored}
    best = max(rated.values())
    no_good_match = best < POSSIBLE
    reason = (
        f"最佳匹配的相关度 {best:.2f} 低于“可能相关”阈值 {POSSIBLE:.2f}，没有值得推荐的结果 / "
        f"no good match: the best relevance {best:.2f} is below the 'possible' band ({POSSIBLE:.2f})"
        if no_good_match else None
    )
    if no_good_match and not include_weak:
        return {"items": [], "no_good_match": True, "reason": reason}
    items = [
        {
            "id": record.id,
            "score": round(min(1.0, max(0.0, score)), 4),
            "relevance": rated[record.id],
            "band": band(rated[record.id]),
            "record": read.model_validate(record).model_dump(mode="json"),
            "explanation": {
                "matched_terms": candidate.matched_terms,
                "query_highlight": highlight(source_text, candidate.matched_terms),
                "record_highlight": highlight(document_text(*record.searchable_text()), candidate.matched_terms),
                "shared_fields": [code for code in profile.fields if code in source.fields],
                "text_relevance": round(candidate.score, 4),
                "semantic_similarity": round(candidate.dense_score, 4),
                "lexical_score": round(candidate.bm25_score, 4),
                "lexical_coverage": round(candidate.lexical_coverage, 4),
                "factors": [factor.__dict__ for factor in factors],
            },
        }
        for score, candidate, record, profile, factors in scored
    ]
    return {"items": items, "no_good_match": no_good_match, "reason": reason}


def near_duplicates(session: Session, keeper: IndexKeeper, *, side: str, text: str) -> list[DuplicateWarning]:
    """Published records of `side` whose text is almost identical to `text` (a record about to be created).

    Called before the new record is written: the encoding takes tens of milliseconds, and no
    database lock is held while it runs.
    """
    model = SIDES[side][0]
    nearest = keeper.engine.nearest(side, text, k=3)
    found = [(other_id, similarity) for other_id, similarity in nearest if similarity >= DUPLICATE_SIMILARITY]
    titles = dict(session.execute(select(model.id, model.title).where(model.id.in_([i for i, _ in found]))).all())
    return [
        DuplicateWarning(
            id=other_id,
            title=titles[other_id],
            similarity=round(similarity, 4),
            msg=f"与已发布记录 {other_id} 几乎相同 / nearly identical to published record {other_id}",
        )
        for other_id, similarity in found
        if other_id in titles
    ]
