"""The FastAPI application: routers, error shape, request log, start-up checks."""

import asyncio
import logging
from contextlib import asynccontextmanager

from fastapi import APIRouter, FastAPI, Request, Response

from app.accounts.views import router as accounts_router
from app.achievements.views import router as achievements_router
from app.admission import AdmissionControl
from app.api_docs import install_docs
from app.body_limit import BodySizeLimit
from app.brokerage.views import router as brokerage_router
from app.catalog.views import router as codes_router
from app.config import Settings
from app.contracts.views import router as contracts_router
from app.control_chars import RefuseControlCharacters
from app.database import make_engine, make_session_factory
from app.demands.views import router as demands_router
from app.dispatch.views import router as dispatch_router
from app.errors import install_error_handlers
from app.exports.views import router as exports_router
from app.health import Health
from app.imports.service import ImportRunner
from app.imports.views import router as imports_router
from app.interests.views import router as interests_router
from app.matching.keeper import READY_BEHIND, IndexKeeper
from app.matching.views import router as matching_router
from app.migrations import pending_message
from app.notifications.views import router as notifications_router
from app.organizations.views import router as organizations_router
from app.proposals.views import router as proposals_router
from app.request_log import log_request
from app.stats.views import router as stats_router
from app.web import router as web
from app.webhooks.views import router as webhooks_router
from app.workers import background_workers, pool_size

log = logging.getLogger("techmatch")

DESCRIPTION = """
揭榜挂帅 双向发榜：企业技术需求榜单（demands）与高校科研院所成果转化榜单（achievements）。

Authenticate with `Authorization: Bearer <key>`; keys come from `techmatch create-key` or
`POST /api/v1/organizations/{org_id}/keys`. Errors always look like
`{"detail": [{"loc": [...], "msg": "...", "type": "..."}]}`.
"""



class DatabaseNotReady(RuntimeError):
    """The database is missing tables or behind the code's migrations."""


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or Settings()
    engine = make_engine(
        settings.resolved_database_url,
        pool_size=pool_size(settings),
        pool_timeout=settings.request_wait_seconds,
    )

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        problem = pending_message(engine, settings.resolved_database_url)
        if problem:
            log.error(problem)
            raise DatabaseNotReady(problem)
        keeper = IndexKeeper.open(settings, app.state.session_factory)
        app.state.index_keeper = keeper
        # The role's background jobs (app/workers.py): a thread of this process each, stopped in
        # reverse order on shutdown. Role `serve` runs only the index keeper: imports wait for a worker.
        workers = background_workers(settings, app.state.session_factory, keeper)
        runners = [worker for worker in workers if isinstance(worker, ImportRunner)]
        app.state.import_runner = runners[0] if runners else None
        # Logged before the workers start: the position the index was opened at, not one the
        # index worker has already moved past.
        log.info(
            "serving %s as role %s; index at change %d (%s, %d dims)",
            engine.url.render_as_string(hide_password=True), settings.role, keeper.applied_seq, keeper.engine.encoder.name,
            keeper.engine.encoder.dim,
        )
        for worker in workers:
            worker.start()
        yield
        for worker in reversed(workers):
            await asyncio.to_thread(worker.stop)
        engine.dispose()

    app = FastAPI(
        title="techmatch",
        version="0.1.0",
        description=DESCRIPTION,
        lifespan=lifespan,
        docs_url=None,  # served by install_docs, from local assets
        redoc_url=None,
    )
    app.state.settings = settings
    app.state.engine = engine
    app.state.session_factory = make_session_factory(engine)
    install_error_handlers(app)
    app.add_middleware(RefuseControlCharacters)
    app.add_middleware(AdmissionControl, slots=settings.max_concurrent_requests, wait_seconds=settings.request_wait_seconds)
    app.add_middleware(BodySizeLimit, max_bytes=settings.max_body_bytes)

    app.middleware("http")(log_request)

    api = APIRouter(prefix="/api/v1")
    for router in (
        codes_router, organizations_router, accounts_router, demands_router, achievements_router, matching_router, imports_router,
        exports_router, proposals_router, interests_router, notifications_router, brokerage_router, contracts_router, webhooks_router,
        stats_router, dispatch_router,
    ):
        api.include_router(router)

    @api.get(
        "/health",
        response_model=Health,
        tags=["health"],
        summary="Liveness, the database, and whether the matching index is ready (for a load balancer)",
        responses={503: {"description": "Alive but not ready: the matching index is `behind` by READY_BEHIND changes or more "
                                        "(starting up, or encoding a bulk import). Same body as 200."}},
    )
    def health(request: Request, response: Response) -> dict:
        """`ready` is true while fewer than READY_BEHIND committed changes are pending (`behind`);
        `applied_seq` is the change-log position the index has applied, `encoded_here` how many
        documents this process has encoded since it started (a replica that only follows the
        stored vectors stays at 0)."""
        keeper: IndexKeeper = request.app.state.index_keeper
        pending = keeper.pending()
        behind = sum(pending.values())
        ready = behind < READY_BEHIND
        if not ready:
            response.status_code = 503
        return {
            "status": "ok",
            "ready": ready,
            "behind": behind,
            "applied_seq": keeper.applied_seq,
            "encoded_here": keeper.encoded,
            "role": settings.role,
            "database": engine.dialect.name,
            "encoder": {"name": keeper.engine.encoder.name, "dim": keeper.engine.encoder.dim},
            "rollout": keeper.rollout_state(),
            "index": {side: {"indexed": keeper.engine.count(side), "pending": pending[side]} for side in pending},
        }

    app.include_router(api)
    install_docs(app)
    web.install(app)
    return app
