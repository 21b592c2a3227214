"""FastAPI dependencies: the request's session and its caller."""

import logging
from collections.abc import Iterator
from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy.orm import Session

from app.accounts import service as accounts
from app.auth import Principal
from app.changelog import last_logged, logged_records
from app.database import session_scope
from app.errors import Unauthorized
from app.matching.keeper import INLINE_CATCH_UP, INLINE_WAIT_SECONDS

log = logging.getLogger("techmatch")


READ_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


def mark_read_only(request: Request) -> None:
    """Route dependency for a POST that writes nothing (free-text matching): read like a GET."""
    request.state.read_only = True


ReadOnly = Depends(mark_read_only)


def get_session(request: Request) -> Iterator[Session]:
    """One transaction per request, committed before the response is sent (function scope).

    Reads (GET, and routes marked `ReadOnly`) open a read-only transaction; every other request
    a write transaction, which on SQLite holds the write lock from its first read (see
    `app.database`). When the transaction logged index changes, the matching index applies
    them right after the commit (the request's connection is back in the pool by then), so a
    record is matchable (or gone from matches) when the request returns; it applies the log up
    to its own last change and no further, leaving later writers' changes to them. It encodes its
    own records whatever the process's role (other records it meets are the encoding process's).
    """
    read_only = request.method in READ_METHODS or getattr(request.state, "read_only", False)
    with session_scope(request.app.state.session_factory, read_only=read_only) as session:
        yield session
    own = last_logged(session)
    if own is not None:
        try:
            request.app.state.index_keeper.catch_up(
                limit=INLINE_CATCH_UP, wait=INLINE_WAIT_SECONDS, until=own, own=logged_records(session)
            )
        except Exception:  # the change is committed; the background worker will retry
            log.exception("inline index update failed; left to the background worker")


SessionDep = Annotated[Session, Depends(get_session, scope="function")]


# Declares the Bearer scheme in the OpenAPI document (Swagger UI's Authorize button, generated
# clients); `get_principal` answers the 401s itself, in the common error shape.
bearer = HTTPBearer(auto_error=False, description="an API key from `techmatch create-key` or POST /organizations/{org_id}/keys")


def get_principal(request: Request, credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)]) -> Principal:
    """The caller, read in a short read-only transaction of its own, closed before the request's
    own transaction starts: a write request takes its locks (SQLite's write lock included) only
    when it first touches the data, and holds one connection at a time."""
    key = credentials.credentials.strip() if credentials else ""
    if not request.headers.get("Authorization"):
        raise Unauthorized("missing API key: send `Authorization: Bearer <key>`")
    if not key:
        raise Unauthorized("malformed Authorization header: expected `Bearer <key>`")
    with session_scope(request.app.state.session_factory, read_only=True) as session:
        principal = accounts.authenticate(session, key=key)
    if principal is None:
        raise Unauthorized("unknown or revoked API key")
    request.state.principal = principal
    return principal


PrincipalDep = Annotated[Principal, Depends(get_principal)]
