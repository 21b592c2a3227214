"""The routes of one side's list, built once for both sides.

No `from __future__ import annotations` here: the route signatures use the side's own
classes, which FastAPI must see as objects.
"""

from collections.abc import Callable
from dataclasses import dataclass
from typing import Annotated

from fastapi import APIRouter, Header, Query, Request, Response
from fastapi.routing import APIRoute
from pydantic import BaseModel, Field, create_model

from app.dependencies import PrincipalDep, SessionDep
from app.history import service as history
from app.history.schemas import ChangeRead
from app.listings import service
from app.listings.models import ListingColumns
from app.listings.schemas import StatusChange
from app.matching import service as matching
from app.matching.schemas import DuplicateWarning
from app.matching.text import document_text
from app.schemas import Id, Page

IfMatch = Annotated[
    str | None,
    Header(
        alias="If-Match",
        description='the ETag last read (e.g. "3"): the change is refused with 412 if the record changed since',
    ),
]


@dataclass(frozen=True)
class ListingSide:
    """Everything that differs between the demand and achievement routes."""

    model: type[ListingColumns]
    create: type[BaseModel]
    update: type[BaseModel]
    read: type[BaseModel]
    query: type[BaseModel]
    path: str
    label: str
    # What else must happen when a record's status changes (a demand's proposals when it closes).
    after_status_change: Callable[..., None] | None = None


def created_example(read: type[BaseModel]) -> dict:
    """What creating a record answers: the read model's example, warned of a published near-duplicate."""
    record = read.model_json_schema(mode="serialization")["examples"][0]
    other = record["id"] - 3
    warning = {
        "type": "near_duplicate",
        "id": other,
        "title": record["title"],
        "similarity": 0.9731,
        "msg": f"与已发布记录 {other} 几乎相同 / nearly identical to published record {other}",
    }
    return {**record, "warnings": [warning]}


def build_router(side: ListingSide) -> APIRouter:
    model, label = side.model, side.label
    router = APIRouter(prefix=f"/{side.path}", tags=[side.path])

    def load(session, record_id: Id, principal):
        return service.get_visible_or_raise(session, model=model, record_id=record_id, actor=principal)

    def load_for_change(session, record_id: Id, principal, if_match: str | None):
        """The current row, locked until commit, and still at the version the caller last saw."""
        record = service.get_visible_or_raise(session, model=model, record_id=record_id, actor=principal, lock=True)
        service.check_version(record, if_match)
        return record

    def with_etag(response: Response, record):
        response.headers["ETag"] = service.etag(record)
        return record

    created_model = create_model(
        f"{side.read.__name__.removesuffix('Read')}Created",
        __base__=side.read,
        __cls_kwargs__={"json_schema_extra": {"examples": [created_example(side.read)]}},
        warnings=(list[DuplicateWarning], Field([], description="near-duplicates of already published records")),
    )

    @router.post("", response_model=created_model, status_code=201, summary=f"Create a {label}")
    def create(data: side.create, request: Request, session: SessionDep, principal: PrincipalDep):
        text = document_text(data.title, data.keywords, getattr(data, model.text_attr))
        warnings = matching.near_duplicates(session, request.app.state.index_keeper, side=side.path, text=text)
        record = service.create(session, model=model, data=data, actor=principal)
        return {**side.read.model_validate(record).model_dump(), "warnings": warnings}

    @router.get("", response_model=Page[side.read], summary=f"List and filter {label}s")
    def list_records(query: Annotated[side.query, Query()], session: SessionDep, principal: PrincipalDep):
        items, total = service.get_page(session, model=model, query=query, actor=principal)
        return {"items": items, "total": total, "page": query.page, "size": query.size}

    @router.get("/{record_id}", response_model=side.read, summary=f"One {label}")
    def get_record(record_id: Id, response: Response, session: SessionDep, principal: PrincipalDep):
        return with_etag(response, load(session, record_id, principal))

    @router.patch("/{record_id}", response_model=side.read, summary=f"Change some fields of a {label}")
    def update(
        record_id: Id, data: side.update, response: Response, session: SessionDep, principal: PrincipalDep, if_match: IfMatch = None
    ):
        record = load_for_change(session, record_id, principal, if_match)
        return with_etag(response, service.update(session, record=record, data=data, actor=principal))

    def status_route(target: str, verb: str):
        @router.post(f"/{{record_id}}/{verb}", response_model=side.read, name=verb, summary=f"{verb.capitalize()} a {label}")
        def change(
            record_id: Id, response: Response, session: SessionDep, principal: PrincipalDep,
            body: StatusChange | None = None, if_match: IfMatch = None,
        ):
            record = load_for_change(session, record_id, principal, if_match)
            reason = body.reason if body else ""
            service.change_status(session, record=record, target=target, reason=reason, actor=principal)
            if side.after_status_change:
                side.after_status_change(session, record=record, actor=principal)
            return with_etag(response, record)

    status_route("published", "publish")
    status_route("closed", "close")
    status_route("withdrawn", "withdraw")

    @router.delete("/{record_id}", status_code=204, summary=f"Delete a draft {label} (owner) or purge any (admin)")
    def delete(record_id: Id, session: SessionDep, principal: PrincipalDep, if_match: IfMatch = None):
        record = load_for_change(session, record_id, principal, if_match)
        service.delete(session, record=record, actor=principal)

    @router.get("/{record_id}/history", response_model=list[ChangeRead], summary=f"Every change to a {label}")
    def get_history(record_id: Id, session: SessionDep, principal: PrincipalDep):
        """Admins still read the history of a deleted or purged record (it ends with its snapshot)."""
        if principal.is_admin and session.get(model, record_id) is None:
            changes = history.get_for(session, entity_type=model.entity_type, entity_id=record_id)
            if changes:
                return changes
        load(session, record_id, principal)
        return history.get_for(session, entity_type=model.entity_type, entity_id=record_id)

    for route in router.routes:
        if isinstance(route, APIRoute):
            route.operation_id = f"{side.path}_{route.name}"
    return router
