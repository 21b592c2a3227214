"""Standing matchmaking: announcing new strong matches, daily digests, saved searches, opt-outs.

Every pass works in two steps. It first reads and ranks in a read-only session (encoding and
searching take time, and no write lock may be held meanwhile); it then writes the notifications
in one short transaction that also moves the position it started from (the dispatch cursor, or
the saved search's `covered_seq`), re-checking that position under a row lock. So a crash
between the steps only repeats the reading, a second worker that got there first makes the
slower one drop its work, and nothing is ever announced twice or skipped.

Relevance is the number the API shows: records are ranked by `matching.service.counterparts`
and saved searches by `matching.service.rank_text`, the functions behind the match endpoints.
"""

import json
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta

import numpy as np
from sqlalchemy import and_, delete, func, or_, select, update
from sqlalchemy.orm import Session, sessionmaker

from app.auth import Principal
from app.brokerage.models import BrokerAssignment
from app.changelog import IndexChange
from app.clock import CHINA_TZ
from app.database import lock_row, session_scope, utcnow
from app.dispatch import mail as mails
from app.dispatch.models import (
    CURSOR_ID,
    AnnouncedMatch,
    DigestItem,
    DigestRecipient,
    DispatchCursor,
    DispatchOptOut,
    SavedSearch,
    SavedSearchHit,
)
from app.dispatch.schemas import DispatchSettings, SavedSearchCreate
from app.errors import NotFound
from app.imports.models import ImportJob, ImportLink
from app.listings import service as listings
from app.listings.schemas import ListingFilters
from app.matching.keeper import IndexKeeper
from app.matching.relevance import POSSIBLE, STRONG, band, relevances
from app.matching.service import counterparts, parse_filters, rank_text
from app.notifications.kinds import DISPATCH_KINDS
from app.notifications.models import Notification
from app.notifications.service import notify
from app.organizations import service as organizations
from app.sides import LABELS, OTHER_SIDE, listing_model

# Pairs a digest lists in its `data` (the message gives the total); the strongest first.
DIGEST_LISTED = 100
RUNNING_IMPORT = ("queued", "running")
BAND_FLOOR = {"strong": STRONG, "possible": POSSIBLE}
# Ids sent as one IN list at most (PostgreSQL takes 65,535 parameters per statement).
MAX_IN_LIST = 5000
FREQUENCY_INTERVAL = {"immediately": timedelta(0), "daily": timedelta(days=1), "weekly": timedelta(days=7)}


# --- Per-organization settings ---------------------------------------------------------------


def get_settings(session: Session, *, org_id: int, actor: Principal) -> DispatchSettings:
    """Which dispatch kinds the organization receives (its owners or an admin)."""
    organizations.get_or_raise(session, org_id=org_id)
    actor.require_manage(org_id, f"the dispatch settings of organization {org_id}")
    off = set(session.scalars(select(DispatchOptOut.kind).where(DispatchOptOut.org_id == org_id)))
    return DispatchSettings(**{kind: kind not in off for kind in DISPATCH_KINDS},
                            digest_emails=mails.chosen_recipients(session, org_id=org_id))


def put_settings(session: Session, *, org_id: int, data: DispatchSettings, actor: Principal) -> DispatchSettings:
    """Turn dispatch kinds on or off for the organization (its owners or an admin)."""
    get_settings(session, org_id=org_id, actor=actor)
    session.execute(delete(DispatchOptOut).where(DispatchOptOut.org_id == org_id))
    session.add_all(DispatchOptOut(org_id=org_id, kind=kind) for kind in DISPATCH_KINDS if not getattr(data, kind))
    session.execute(delete(DigestRecipient).where(DigestRecipient.org_id == org_id))
    chosen = sorted(dict.fromkeys(data.digest_emails))
    session.add_all(DigestRecipient(org_id=org_id, email=email) for email in chosen)
    session.flush()
    return data.model_copy(update={"digest_emails": chosen})  # as get_settings reads them back: sorted


def opted_out(session: Session, *, org_ids: set[int], kind: str) -> set[int]:
    """Those of `org_ids` that turned `kind` off."""
    if not org_ids:
        return set()
    return set(session.scalars(select(DispatchOptOut.org_id).where(DispatchOptOut.kind == kind, DispatchOptOut.org_id.in_(org_ids))))


# --- New matches -------------------------------------------------------------------------------


@dataclass
class Found:
    """A changed, published record and its strong counterparts [(id, relevance)], from the reading step."""

    side: str
    record_id: int
    imported: bool
    strong: list[tuple[int, float]] = field(default_factory=list)


def cursor_position(session: Session) -> int:
    """The change-log position announced so far (0 before the first pass)."""
    return session.scalar(select(DispatchCursor.seq).where(DispatchCursor.id == CURSOR_ID)) or 0


def find_matches(session: Session, keeper: IndexKeeper, *, after: int, limit: int, k: int) -> tuple[int, list[Found]]:
    """Rank the records named by up to `limit` changes after `after` that the index has applied.

    Returns the last change read (`after` when none) and each published record's strong
    counterparts among its best `k`. Changes the keeper has not applied yet are left for a
    later pass: matching them now would miss the record itself or its latest text.
    """
    rows = session.execute(
        select(IndexChange.seq, IndexChange.side, IndexChange.record_id, IndexChange.at)
        .where(IndexChange.seq > after, IndexChange.seq <= keeper.applied_seq)
        .order_by(IndexChange.seq)
        .limit(limit)
    ).all()
    if not rows:
        return after, []
    changed: dict[tuple[str, int], datetime] = {}
    for row in rows:
        changed[(row.side, row.record_id)] = row.at
    found = []
    for (side, record_id), at in changed.items():
        model = listing_model(side)
        record = session.get(model, record_id)
        if record is None or record.status != "published":
            continue
        result = counterparts(session, keeper, side=side, record=record, k=k)
        strong = [(item["id"], item["relevance"]) for item in result["items"] if item["band"] == "strong"]
        if strong:
            found.append(Found(side, record_id, _from_import(session, side, record_id, at), strong))
    return rows[-1].seq, found


def _from_import(session: Session, side: str, record_id: int, at: datetime) -> bool:
    """Whether the change at `at` was made while an import of this side, for the record's owner, ran."""
    running = session.scalar(
        select(func.count())
        .select_from(ImportLink)
        .join(ImportJob, and_(ImportJob.side == ImportLink.side, ImportJob.org_id == ImportLink.owner_org_id))
        .where(
            ImportLink.side == side, ImportLink.record_id == record_id, ImportJob.created_at <= at,
            or_(ImportJob.status.in_(RUNNING_IMPORT), ImportJob.updated_at >= at),
        )
    )
    return bool(running)


def announce(session: Session, *, start: int, end: int, found: list[Found], daily_cap: int, today: date) -> bool:
    """Write what `find_matches` found for the changes (start, end] and move the cursor to `end`.

    Returns False, writing nothing, when the cursor is no longer at `start` (another worker
    announced these changes meanwhile). Records withdrawn or closed since the reading step are
    left out; a pair already announced is never announced again.
    """
    cursor = lock_row(session, DispatchCursor, CURSOR_ID)
    if cursor is None:
        cursor = DispatchCursor(id=CURSOR_ID, seq=0)
        session.add(cursor)
        session.flush()
    if cursor.seq != start:
        return False
    ids: dict[str, set[int]] = {"demands": set(), "achievements": set()}
    for item in found:
        ids[item.side].add(item.record_id)
        ids[OTHER_SIDE[item.side]].update(other for other, _ in item.strong)
    live = {side: _published(session, side, side_ids) for side, side_ids in ids.items()}
    announced: set[tuple[int, int]] = {
        (demand_id, achievement_id)
        for demand_id, achievement_id in session.execute(
            select(AnnouncedMatch.demand_id, AnnouncedMatch.achievement_id).where(
                AnnouncedMatch.demand_id.in_(live["demands"]), AnnouncedMatch.achievement_id.in_(live["achievements"])
            )
        )
    }
    owners = {row.owner_org_id for side in live.values() for row in side.values()}
    brokers: dict[int, set[int]] = defaultdict(set)
    for broker_org_id, org_id in session.execute(
        select(BrokerAssignment.broker_org_id, BrokerAssignment.org_id).where(BrokerAssignment.org_id.in_(owners))
    ):
        brokers[org_id].add(broker_org_id)
    everyone = owners | {b for group in brokers.values() for b in group}
    silent = opted_out(session, org_ids=everyone, kind="new_match")
    sent_today = _notices_since(session, everyone, datetime.combine(today, time(0), CHINA_TZ))
    for item in found:
        record = live[item.side].get(item.record_id)
        if record is None:
            continue
        target = OTHER_SIDE[item.side]
        for other_id, relevance in item.strong:
            other = live[target].get(other_id)
            if other is None:
                continue
            demand, achievement = (record, other) if item.side == "demands" else (other, record)
            pair = (demand.id, achievement.id)
            if pair in announced:
                continue
            announced.add(pair)
            session.add(AnnouncedMatch(demand_id=demand.id, achievement_id=achievement.id, relevance=relevance))
            data = {
                "demand_id": demand.id, "achievement_id": achievement.id, "relevance": relevance, "band": "strong",
                "new_record": {"side": item.side, "id": record.id},
            }
            recipients = ({other.owner_org_id} | brokers[demand.owner_org_id] | brokers[achievement.owner_org_id]) - silent
            for org_id in sorted(recipients):
                if item.imported or sent_today[org_id] >= daily_cap:
                    session.add(
                        DigestItem(
                            org_id=org_id, day=today, demand_id=demand.id, achievement_id=achievement.id, relevance=relevance,
                            reason="import" if item.imported else "cap",
                        )
                    )
                    continue
                yours = "贵机构的" if org_id == other.owner_org_id else ""
                message = (
                    f"新发布的{LABELS[item.side]} {record.id}「{record.title}」与{yours}{LABELS[target]} {other.id}「{other.title}」"
                    f"高度匹配，相关度 {relevance:.2f}"
                )
                notify(
                    session, org_id=org_id, kind="new_match", message=message[:500], entity_type=_entity(item.side),
                    entity_id=record.id, data=data,
                )
                sent_today[org_id] += 1
    cursor.seq, cursor.updated_at = end, utcnow()
    session.flush()
    return True


def _published(session: Session, side: str, ids: set[int]) -> dict:
    """id → (id, title, owner_org_id) of those of `ids` still published."""
    model = listing_model(side)
    rows = session.execute(select(model.id, model.title, model.owner_org_id).where(model.id.in_(ids), model.status == "published"))
    return {row.id: row for row in rows}


def _entity(side: str) -> str:
    return listing_model(side).entity_type


def _notices_since(session: Session, org_ids: set[int], since: datetime) -> defaultdict[int, int]:
    """How many `new_match` notices each organization received since `since`."""
    counts: defaultdict[int, int] = defaultdict(int)
    if org_ids:
        counts.update(
            session.execute(
                select(Notification.org_id, func.count())
                .where(Notification.kind == "new_match", Notification.org_id.in_(org_ids), Notification.created_at >= since)
                .group_by(Notification.org_id)
            ).all()
        )
    return counts


def announce_batch(
    factory: sessionmaker[Session], keeper: IndexKeeper, *, limit: int, k: int, daily_cap: int, today: date
) -> int:
    """One batch of changes, read then announced; returns how many changes it moved past (0: none waiting).

    When another worker announced the batch meanwhile (the cursor moved), it reads again from
    where that one got to, so a pass never ends with changes left behind a lost race.
    """
    while True:
        with session_scope(factory, read_only=True) as session:
            start = cursor_position(session)
            end, found = find_matches(session, keeper, after=start, limit=limit, k=k)
        if end == start:
            return 0
        with session_scope(factory) as session:
            if announce(session, start=start, end=end, found=found, daily_cap=daily_cap, today=today):
                return end - start


# --- Daily digests -----------------------------------------------------------------------------


def send_digests(session: Session, *, today: date, mail: bool = False, public_url: str | None = None) -> int:
    """One `match_digest` notification per organization and past day with waiting items; returns how many.

    The items of a day are sent once the day is over (China calendar), then deleted; an
    organization that turned digests off has its items dropped. With `mail` (an SMTP server is
    set) the e-mail of each digest whose organization has an address is queued in the same
    transaction (dispatch/mail.py).
    """
    items = list(
        session.scalars(
            select(DigestItem)
            .where(DigestItem.day < today)
            .order_by(DigestItem.org_id, DigestItem.day, DigestItem.relevance.desc(), DigestItem.id)
            .with_for_update(skip_locked=True)
        )
    )
    groups: dict[tuple[int, date], list[DigestItem]] = defaultdict(list)
    for item in items:
        groups[(item.org_id, item.day)].append(item)
    silent = opted_out(session, org_ids={org_id for org_id, _ in groups}, kind="match_digest")
    sent = 0
    for (org_id, day), group in groups.items():
        if org_id not in silent:
            imported = sum(item.reason == "import" for item in group)
            message = (
                f"{day.isoformat()} 匹配摘要：共 {len(group)} 对新的高度匹配（批量导入 {imported} 对，"
                f"超出每日通知上限 {len(group) - imported} 对），按相关度列出"
            )
            pairs = [
                {"demand_id": i.demand_id, "achievement_id": i.achievement_id, "relevance": i.relevance, "reason": i.reason}
                for i in group[:DIGEST_LISTED]
            ]
            data = {"day": day.isoformat(), "total": len(group), "pairs": pairs}
            notice = notify(
                session, org_id=org_id, kind="match_digest", message=message, entity_type="organization", entity_id=org_id, data=data,
            )
            if mail and (addresses := mails.recipients(session, org_id=org_id)):
                mails.queue(
                    session, notification=notice, org_id=org_id, addresses=addresses, day=day, total=len(group),
                    pairs=_titled(session, group[:DIGEST_LISTED]), public_url=public_url,
                )
            sent += 1
        for item in group:
            session.delete(item)
    session.flush()
    return sent


def _titled(session: Session, items: list[DigestItem]) -> list[mails.Pair]:
    """The digest's listed pairs with their records' titles, for the mail."""
    titles = {
        side: dict(session.execute(select(model.id, model.title).where(model.id.in_(ids))).all())
        for side, model, ids in (
            ("demands", listing_model("demands"), {i.demand_id for i in items}),
            ("achievements", listing_model("achievements"), {i.achievement_id for i in items}),
        )
    }
    return [
        mails.Pair(i.demand_id, titles["demands"].get(i.demand_id, ""), i.achievement_id, titles["achievements"].get(i.achievement_id, ""),
                   i.relevance, i.reason)
        for i in items
    ]


# --- Saved searches ----------------------------------------------------------------------------


def create_saved_search(session: Session, *, data: SavedSearchCreate, actor: Principal) -> SavedSearch:
    """Save a search for the caller's organization (owners, brokers, admins); its first run covers the whole list."""
    actor.require_role("owner", "broker", "admin", action="save searches")
    filters = parse_filters(data.target, data.filters).model_dump(mode="json", exclude_unset=True)
    search = SavedSearch(
        org_id=actor.org_id, key_id=actor.key_id, name=data.name, target=data.target, text=data.text, filters=filters,
        frequency=data.frequency, min_band=data.min_band, covered_seq=0, next_run_at=utcnow(),
    )
    session.add(search)
    session.flush()
    return search


def saved_searches(session: Session, *, actor: Principal) -> list[SavedSearch]:
    """The caller's organization's saved searches, oldest first."""
    return list(session.scalars(select(SavedSearch).where(SavedSearch.org_id == actor.org_id).order_by(SavedSearch.id)))


def delete_saved_search(session: Session, *, search_id: int, actor: Principal) -> None:
    """Unsubscribe: the search stops at once (its organization's keys, or an admin)."""
    search = session.get(SavedSearch, search_id)
    if search is None or not (actor.is_admin or search.org_id == actor.org_id):
        raise NotFound(f"saved search {search_id} does not exist", ["path", "search_id"])
    session.delete(search)
    session.flush()


@dataclass
class Run:
    """One saved search's results from the reading step: [(id, relevance, band, title)] and the position covered."""

    search_id: int
    frequency: str
    start: int
    end: int
    results: list[tuple[int, float, str, str]]


def rank_saved_searches(session: Session, keeper: IndexKeeper, *, now: datetime, limit: int, k: int) -> list[Run]:
    """Run up to `limit` searches due before `now` over the records changed since each one's last run.

    A search's first run ranks the whole list (`rank_text`, once per subscription). Later runs
    are rated together, one batch per target list: the records changed since the oldest position
    covered are read once, and every search's pair with each of them is rated at once
    (`MatchEngine.rate_texts`). So a run costs one rating of the new records per side plus a
    little per search, and a published record's cost does not grow with the subscriptions.
    """
    end = keeper.applied_seq
    due = list(session.scalars(select(SavedSearch).where(SavedSearch.next_run_at < now).order_by(SavedSearch.next_run_at).limit(limit)))
    if not due:
        return []
    runs = [Run(search.id, search.frequency, 0, end, _first_run(session, keeper, search, k)) for search in due if not search.covered_seq]
    later: defaultdict[str, list[SavedSearch]] = defaultdict(list)
    for search in due:
        if search.covered_seq:
            later[search.target].append(search)
    if later:
        since = min(search.covered_seq for searches in later.values() for search in searches)
        changes = session.execute(
            select(IndexChange.side, IndexChange.record_id, func.max(IndexChange.seq))
            .where(IndexChange.seq > since, IndexChange.seq <= end)
            .group_by(IndexChange.side, IndexChange.record_id)
        ).all()
        for target, searches in later.items():
            changed = {record_id: seq for side, record_id, seq in changes if side == target}
            runs.extend(_rate_batch(session, keeper, target, searches, changed, end, k))
    return runs


def _first_run(session: Session, keeper: IndexKeeper, search: SavedSearch, k: int) -> list[tuple[int, float, str, str]]:
    """The best `k` records of the whole list (those passing the filters) that reach the search's band."""
    filters = parse_filters(search.target, search.filters)
    ranked = rank_text(
        session, keeper, text=search.text, target=search.target, allowed=_candidates(session, search.target, filters, None), k=k,
        include_weak=True,
    )
    floor = BAND_FLOOR[search.min_band]
    items = [item for item in ranked["items"] if item["relevance"] >= floor]
    return [(item["id"], item["relevance"], item["band"], item["record"]["title"]) for item in items]


def _rate_batch(
    session: Session, keeper: IndexKeeper, target: str, searches: list[SavedSearch], changed: dict[int, int], end: int, k: int
) -> list[Run]:
    """Later runs of `searches` over the records of `target` changed (last at `changed[id]`) since each one's position.

    Each search gets the records changed after its own position that pass its filters and reach
    its band, the `k` most relevant first; relevance is the API's (`relevance` of the same
    signals `rank_text` reads).
    """
    published = _published(session, target, set(changed))
    ids = sorted(published)
    if not ids:
        return [Run(search.id, search.frequency, search.covered_seq, end, []) for search in searches]
    cosine, bm25, coverage = keeper.engine.rate_texts(target, [search.text for search in searches], ids)
    rated = np.round(relevances(cosine.astype(np.float64), coverage.astype(np.float64), bm25.astype(np.float64)), 4)
    last_change = np.array([changed[record_id] for record_id in ids])
    passing: dict[str, np.ndarray] = {}  # searches with the same filters share one query
    runs = []
    for row, search in enumerate(searches):
        keep = (last_change > search.covered_seq) & (rated[row] >= BAND_FLOOR[search.min_band])
        if search.filters and keep.any():
            key = json.dumps(search.filters, sort_keys=True)
            if key not in passing:
                allowed = set(_candidates(session, target, parse_filters(target, search.filters), set(ids)) or ())
                passing[key] = np.array([record_id in allowed for record_id in ids])
            keep &= passing[key]
        best = [int(column) for column in np.flatnonzero(keep)]
        best.sort(key=lambda column: (-rated[row, column], ids[column]))
        results: list[tuple[int, float, str, str]] = [
            (ids[c], float(rated[row, c]), band(float(rated[row, c])), published[ids[c]].title) for c in best[:k]
        ]
        runs.append(Run(search.id, search.frequency, search.covered_seq, end, results))
    return runs


def _candidates(session: Session, target: str, filters: ListingFilters, among: set[int] | None) -> list[int] | None:
    """The published records of `target` a run ranks: those passing the filters, among `among` when given.

    None means the whole list (a first run without filters). A long `among` (a week after a bulk
    import) is intersected here rather than sent as thousands of query parameters.
    """
    model = listing_model(target)
    if among is None:
        return listings.published_ids(session, model=model, filters=filters) if filters.model_fields_set else None
    if len(among) > MAX_IN_LIST:
        return [record_id for record_id in listings.published_ids(session, model=model, filters=filters) if record_id in among]
    return listings.published_ids(session, model=model, filters=filters, among=among)


def send_saved_search_results(session: Session, *, runs: list[Run], now: datetime) -> int:
    """Notify each run's results not sent before and schedule the next run; returns the notifications written.

    A search deleted or run by another worker since the reading step is left alone. The runs that
    found nothing (most of them) are moved on with one UPDATE per schedule, not a row at a time.
    """
    sent = 0
    quiet: defaultdict[tuple[int, int, str], list[int]] = defaultdict(list)
    for run in runs:
        if not run.results:
            quiet[(run.start, run.end, run.frequency)].append(run.search_id)
            continue
        search = lock_row(session, SavedSearch, run.search_id)
        if search is None or search.covered_seq != run.start:
            continue
        ids = [record_id for record_id, *_ in run.results]
        seen = set(session.scalars(
            select(SavedSearchHit.record_id).where(SavedSearchHit.saved_search_id == search.id, SavedSearchHit.record_id.in_(ids))
        ))
        new = [result for result in run.results if result[0] not in seen]
        session.add_all(
            SavedSearchHit(saved_search_id=search.id, record_id=record_id, relevance=relevance) for record_id, relevance, *_ in new
        )
        if new and not opted_out(session, org_ids={search.org_id}, kind="saved_search"):
            label = LABELS[search.target]
            listed = "；".join(f"{label} {record_id}「{title}」相关度 {relevance:.2f}" for record_id, relevance, _, title in new[:3])
            more = f" 等 {len(new)} 条" if len(new) > 3 else ""
            data = {
                "saved_search_id": search.id, "target": search.target,
                "results": [{"id": record_id, "relevance": relevance, "band": band} for record_id, relevance, band, _ in new],
            }
            notify(
                session, org_id=search.org_id, kind="saved_search", entity_type="saved_search", entity_id=search.id, data=data,
                message=f"订阅检索「{search.name}」有新结果：{listed}{more}"[:500],
            )
            sent += 1
        search.covered_seq, search.last_run_at = run.end, now
        search.next_run_at = now + FREQUENCY_INTERVAL[search.frequency]
    for (start, end, frequency), ids in quiet.items():
        session.execute(
            update(SavedSearch)
            .where(SavedSearch.id.in_(ids), SavedSearch.covered_seq == start)
            .values(covered_seq=end, last_run_at=now, next_run_at=now + FREQUENCY_INTERVAL[frequency])
        )
    session.flush()
    return sent


def run_saved_searches(
    factory: sessionmaker[Session], keeper: IndexKeeper, *, now: datetime, limit: int, k: int
) -> tuple[int, int]:
    """One batch of due saved searches, read then sent; returns (notifications written, searches run)."""
    with session_scope(factory, read_only=True) as session:
        runs = rank_saved_searches(session, keeper, now=now, limit=limit, k=k)
    if not runs:
        return 0, 0
    with session_scope(factory) as session:
        return send_saved_search_results(session, runs=runs, now=now), len(runs)
