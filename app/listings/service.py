"""The listing life cycle, written once for both sides (`model` is Demand or Achievement).

Every change checks who is acting, validates the record as a whole, and appends to the
change history in the same transaction, so nothing is changed without a trace.
"""

from collections.abc import Collection

from pydantic import BaseModel
from pydantic_core import to_jsonable_python
from sqlalchemy import String, and_, cast, func, or_, select
from sqlalchemy.orm import Session

from app.auth import Principal
from app.catalog.regions import Region
from app.changelog import log_change
from app.clock import china_today
from app.database import lock_row, utcnow
from app.errors import Conflict, InvalidInput, NotFound, PreconditionFailed
from app.history import service as history
from app.listings.models import ListingColumns
from app.listings.schemas import ListingCreate, ListingFilters, ListingQuery

# Columns that are bookkeeping, not content: never part of a content diff.
_BOOKKEEPING = {
    "id", "owner_org_id", "status", "created_at", "updated_at", "published_at", "region_province", "region_city", "version",
}
_SORTABLE = {"id", "title", "created_at", "updated_at", "published_at", "deadline"}


def is_visible(record: ListingColumns, actor: Principal) -> bool:
    """Public statuses for everyone; drafts and withdrawn records for their owner and admins."""
    return record.status in record.lifecycle.public or actor.is_admin or record.owner_org_id == actor.org_id


def get_visible_or_raise(session: Session, *, model: type[ListingColumns], record_id: int, actor: Principal, lock: bool = False):
    """The record, or 404 when it does not exist or the caller may not see it.

    `lock` (every change) re-reads the row under a lock held until commit, so the change is
    checked against the current row, never against one a concurrent request has since changed.
    """
    record = lock_row(session, model, record_id) if lock else session.get(model, record_id)
    if record is None or not is_visible(record, actor):
        raise NotFound(f"{model.entity_type} {record_id} does not exist", ["path", "record_id"])
    return record


def check_version(record: ListingColumns, if_match: str | None) -> None:
    """412 unless `If-Match` is absent, `*`, or names the record's current version (its ETag)."""
    if if_match is None:
        return
    tags = {tag.strip().removeprefix("W/").strip('"') for tag in if_match.split(",")}
    if "*" in tags or str(record.version) in tags:
        return
    raise PreconditionFailed(
        f"{record.entity_type} {record.id} is at version {record.version}, not {if_match}: "
        "read it again, reapply your change and send the new ETag",
        ["header", "If-Match"],
        headers={"ETag": etag(record)},
    )


def etag(record: ListingColumns) -> str:
    return f'"{record.version}"'


def content_of(record: ListingColumns) -> dict:
    """The record's content as JSON values, the unit of the history's diffs and snapshots."""
    columns = [c.key for c in record.__table__.columns if c.key not in _BOOKKEEPING]
    return to_jsonable_python({key: getattr(record, key) for key in columns})


CREATORS = ("owner", "admin")
"""Roles that create records of their organization, one at a time or by a spreadsheet import."""


def may_create(actor: Principal) -> bool:
    """Whether `create` (and an import) would accept the caller's role: what a page asks before offering the form."""
    return actor.role in CREATORS


def create(session: Session, *, model: type[ListingColumns], data: ListingCreate, actor: Principal):
    """A new listing owned by the caller's organization, as a draft or published at once."""
    actor.require_role(*CREATORS, action=f"create {model.entity_type}s")
    record = model(**data.model_dump(exclude={"status", "region"}), owner_org_id=actor.org_id, status="draft")
    record.set_region(data.region)
    record.check_consistency()
    _check_not_past(record, record.deadline_attrs)
    session.add(record)
    session.flush()
    history.record(
        session, entity_type=model.entity_type, entity_id=record.id, action="create", changes=content_of(record), actor=actor
    )
    log_change(session, side=model.__tablename__, record_id=record.id)
    if data.status == "published":
        change_status(session, record=record, target="published", reason="published on creation", actor=actor)
        record.version = 1  # a new record is version 1, whichever state it was created in
    return record


def update(session: Session, *, record: ListingColumns, data: BaseModel, actor: Principal):
    """Apply the fields the caller sent; the history keeps each field's old and new value."""
    actor.require_manage(record.owner_org_id, f"{record.entity_type} {record.id}")
    if record.status not in record.lifecycle.editable:
        raise Conflict(f"a {record.status} {record.entity_type} can no longer be edited", ["path", "record_id"])
    values = data.model_dump(exclude_unset=True)
    before = content_of(record)
    if "region" in values:
        record.set_region(values.pop("region"))
    for key, value in values.items():
        setattr(record, key, value)
    record.check_consistency()
    after = content_of(record)
    changes = {key: {"old": before[key], "new": after[key]} for key in after if before[key] != after[key]}
    _check_not_past(record, [attr for attr in record.deadline_attrs if attr in changes])
    if changes:
        record.updated_at = utcnow()
        record.version += 1
        history.record(
            session, entity_type=record.entity_type, entity_id=record.id, action="update", changes=changes, actor=actor
        )
        log_change(session, side=record.__tablename__, record_id=record.id)
    session.flush()
    return record


def _check_not_past(record: ListingColumns, attrs) -> None:
    """422 when one of `attrs` (deadlines being set) is a day already past on the China calendar."""
    today = china_today()
    for attr in attrs:
        value = getattr(record, attr)
        if value is not None and value < today:
            raise InvalidInput(f"{attr} {value.isoformat()} is in the past / 截止日期已过", ["body", attr])


def change_status(session: Session, *, record: ListingColumns, target: str, reason: str, actor: Principal):
    """Move `record` to `target` along its life cycle's allowed transitions only."""
    actor.require_manage(record.owner_org_id, f"{record.entity_type} {record.id}")
    record.lifecycle.check(record.status, target)
    changes = {"status": {"old": record.status, "new": target}, "reason": reason}
    record.status = target
    record.updated_at = utcnow()
    record.version += 1
    if target == "published":
        record.published_at = record.updated_at
    history.record(session, entity_type=record.entity_type, entity_id=record.id, action="status", changes=changes, actor=actor)
    log_change(session, side=record.__tablename__, record_id=record.id)
    session.flush()
    return record


def delete(session: Session, *, record: ListingColumns, actor: Principal) -> None:
    """Owners may delete their own drafts; only an admin may purge a record that was public.

    Nothing that refers to the record may be lost: while proposals, interests, shortlist entries,
    contracts or feedback point at it, the answer is 409 naming them. The history keeps a full
    snapshot either way, readable by admins after the record is gone.
    """
    if not actor.is_admin:
        actor.require_manage(record.owner_org_id, f"{record.entity_type} {record.id}")
        if record.status != "draft":
            raise Conflict(
                f"a {record.status} {record.entity_type} cannot be deleted; withdraw it instead", ["path", "record_id"]
            )
    holders = _holders(session, record)
    if holders:
        raise Conflict(
            f"{record.entity_type} {record.id} cannot be deleted while {', '.join(holders)} refer to it; "
            "close or withdraw it instead",
            ["path", "record_id"],
        )
    action = "purge" if actor.is_admin else "delete"
    snapshot = {**content_of(record), "status": record.status, "owner_org_id": record.owner_org_id}
    history.record(session, entity_type=record.entity_type, entity_id=record.id, action=action, changes=snapshot, actor=actor)
    log_change(session, side=record.__tablename__, record_id=record.id)
    session.delete(record)
    session.flush()


def _holders(session: Session, record: ListingColumns) -> list[str]:
    """What still refers to `record` through a foreign key ('2 proposals', '1 contracts'), read
    from the schema itself, so a table added later that points at records is counted too."""
    found = []
    for table in record.metadata.sorted_tables:
        for foreign_key in table.foreign_keys:
            if foreign_key.column.table is record.__table__:
                count = session.scalar(select(func.count()).select_from(table).where(foreign_key.parent == record.id))
                if count:
                    found.append(f"{count} {table.name}")
    return found


def get_page(session: Session, *, model: type[ListingColumns], query: ListingQuery, actor: Principal):
    """One page of the records the caller may see that pass every filter; returns (items, total)."""
    statement = select(model).where(*_conditions(model, query, actor))
    total = session.scalar(select(func.count()).select_from(statement.subquery()))
    statement = statement.order_by(*_ordering(model, query.sort)).offset((query.page - 1) * query.size).limit(query.size)
    return list(session.scalars(statement)), total


def all_matching(*, model: type[ListingColumns], query: ListingQuery, actor: Principal):
    """The statement selecting every record `get_page` would page through, in the same order.

    Built (and its filters checked) before any row is read, so a streamed export fails early.
    """
    return select(model).where(*_conditions(model, query, actor)).order_by(*_ordering(model, query.sort))


def iter_records(session: Session, statement, *, batch: int = 500):
    """The records of `statement`, fetched `batch` at a time and released as they go."""
    for record in session.scalars(statement.execution_options(yield_per=batch)):
        yield record
        session.expunge(record)


def published_ids(
    session: Session, *, model: type[ListingColumns], filters: ListingFilters, among: Collection[int] | None = None,
) -> list[int]:
    """Ids of the published records that pass `filters` (matching's hard filters), only from `among` when given
    (a saved search's run looks only at the records changed since its last run)."""
    statement = select(model.id).where(model.status == "published", *_filter_conditions(model, filters))
    if among is not None:
        statement = statement.where(model.id.in_(among))
    return list(session.scalars(statement))


def _conditions(model: type[ListingColumns], query: ListingQuery, actor: Principal) -> list:
    conditions = _filter_conditions(model, query)
    if not actor.is_admin:
        conditions.append(or_(model.status.in_(model.lifecycle.public), model.owner_org_id == actor.org_id))
    if query.status:
        conditions.append(model.status == query.status)
    return conditions


def _filter_conditions(model: type[ListingColumns], query: ListingFilters) -> list:
    conditions = []
    if query.field:
        conditions.append(or_(*(_json_list_has(model.fields, code) for code in query.field)))
    if query.mode:
        conditions.append(_json_list_has(getattr(model, model.modes_attr), query.mode))
    if query.region:
        conditions.append(model.in_region(Region(query.region)))
    if query.owner_org_id is not None:
        conditions.append(model.owner_org_id == query.owner_org_id)
    if query.updated_since:
        conditions.append(model.updated_at >= query.updated_since)
    maturity = getattr(query, "maturity", None)  # only the achievements' filters have it
    if maturity:
        conditions.append(model.__table__.c.maturity.in_(maturity))
    conditions.extend(_amount_overlap(model, query))
    for word in (query.q or "").split():
        pattern = "%" + word.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
        conditions.append(or_(model.title.ilike(pattern, escape="\\"), model.text_column().ilike(pattern, escape="\\")))
    return conditions


def _json_list_has(column, code: str):
    """Codes come from closed lists of plain words, so their quoted form is unambiguous in the JSON text."""
    return cast(column, String).like(f'%"{code}"%')


def _amount_overlap(model: type[ListingColumns], query: ListingFilters) -> list:
    """Records whose amount range overlaps the asked range; records without amounts drop out."""
    low_attr, high_attr = model.amount_attrs
    asked_low, asked_high = getattr(query, low_attr), getattr(query, high_attr)
    if asked_low is not None and asked_high is not None and asked_low > asked_high:
        raise InvalidInput(f"{low_attr} is greater than {high_attr}", ["query", high_attr])
    low, high = model.amount_bounds()
    conditions = []
    if asked_low is not None:
        conditions.append(and_(high.is_not(None), high >= asked_low))
    if asked_high is not None:
        conditions.append(and_(low.is_not(None), low <= asked_high))
    return conditions


def _ordering(model: type[ListingColumns], sort: str) -> list:
    name = sort.removeprefix("-")
    if name not in _SORTABLE or not hasattr(model, name):
        allowed = sorted(n for n in _SORTABLE if hasattr(model, n))
        raise InvalidInput(f"cannot sort by {name!r}; sortable: {', '.join(allowed)}", ["query", "sort"])
    column = getattr(model, name)
    descending = sort.startswith("-")
    return [column.desc() if descending else column.asc(), model.id.desc() if descending else model.id.asc()]
