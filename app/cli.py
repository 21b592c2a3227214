"""The `techmatch` console command.

Commands that create something print only its id or key on stdout, so scripts can capture
it; every other message goes to stderr.
"""

import argparse
import logging
import os
import sys

from app.auth import ROLES
from app.catalog.codes import ORGANIZATION_KINDS
from app.config import Settings
from app.database import make_engine, make_session_factory, session_scope
from app.request_log import RequestIdFilter
from app.sides import SIDES


class CommandError(Exception):
    """A problem the user can fix, said in one line on stderr (exit code 1), without a traceback."""


def _ready_session_factory(settings: Settings):
    """Sessions on the configured database, once it is at the latest migration.

    On an empty or older database every command says which command to run (as the server
    does), instead of failing on a missing table.
    """

    url = settings.resolved_database_url
    engine = make_engine(url)
    _check_migrations(engine, url, settings)
    return make_session_factory(engine)


def _check_migrations(engine, url: str, settings: Settings) -> None:
    from app.migrations import pending_message

    problem = pending_message(engine, url)
    if problem:
        raise CommandError(f"{problem} (data directory {settings.data_dir.resolve()}, set by TECHMATCH_DATA_DIR)")


def _session_scope(settings: Settings):
    return session_scope(_ready_session_factory(settings))


def cmd_serve(args, settings: Settings) -> None:
    import uvicorn

    from app.main import create_app

    settings.role = args.role or settings.role
    if settings.role == "worker":
        raise CommandError("TECHMATCH_ROLE is worker: run `techmatch worker`, or serve with --role all|serve")
    uvicorn.run(create_app(settings), host=args.host or settings.host, port=args.port or settings.port, log_level="warning")


def cmd_worker(args, settings: Settings) -> None:
    """The bulk work without HTTP, until SIGTERM or SIGINT: the index keeper, imports, the webhook
    outbox and the milestone reminders (see app/workers.py). Run as many as the load needs, on any
    machines, all on one PostgreSQL database."""
    import signal
    import threading

    from app.matching.keeper import IndexKeeper
    from app.workers import background_workers, pool_size

    log = logging.getLogger("techmatch.worker")
    settings.role = "worker"
    if "encoder_threads" not in settings.model_fields_set:
        settings.encoder_threads = os.cpu_count() or 1  # no requests to keep a core free for: encode on every core
    url = settings.resolved_database_url
    engine = make_engine(url, pool_size=pool_size(settings))
    _check_migrations(engine, url, settings)
    if engine.dialect.name == "sqlite":
        log.warning("SQLite is for one process: `techmatch serve` alone does this work too; a worker is for PostgreSQL")
    factory = make_session_factory(engine)
    stop = threading.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: stop.set())
    keeper = IndexKeeper.open(settings, factory)
    workers = background_workers(settings, factory, keeper)
    for worker in workers:
        worker.start()
    log.info(
        "worker started on %s (%d encoding threads, data directory %s)",
        engine.url.render_as_string(hide_password=True), settings.encoder_threads, settings.data_dir.resolve(),
    )
    stop.wait()
    log.info("stopping: finishing the current import chunk, webhook send and index batch")
    for worker in reversed(workers):
        worker.stop()
    engine.dispose()
    log.info("worker stopped")


def cmd_db(args, settings: Settings) -> None:
    from app import migrations

    url = settings.resolved_database_url
    if args.action == "upgrade":
        migrations.upgrade(url, args.revision or "head")
    elif args.action == "downgrade":
        migrations.downgrade(url, args.revision or "-1")
    else:
        print(migrations.pending_message(make_engine(url), url) or "database is up to date", file=sys.stderr)


def cmd_create_org(args, settings: Settings) -> None:
    from app.organizations import service
    from app.organizations.schemas import OrganizationCreate

    data = OrganizationCreate(
        name=args.name, kind=args.kind, region=args.region, credit_code=args.credit_code, broker_scope=args.broker_scope
    )
    with _session_scope(settings) as session:
        print(service.create(session, data=data).id)


def cmd_create_key(args, settings: Settings) -> None:
    from app.accounts import service

    with _session_scope(settings) as session:
        _, key = service.issue(session, org_id=args.org, role=args.role, label=args.label)
    print(key)


def cmd_create_admin(args, settings: Settings) -> None:
    from app.accounts import service

    with _session_scope(settings) as session:
        _, key = service.bootstrap_admin(session, org_name=args.org_name)
    print(key)


def _read_password() -> str:
    """Asked twice at a terminal; otherwise the first line of standard input (scripts pipe it in)."""
    import getpass

    if not sys.stdin.isatty():
        return sys.stdin.readline().rstrip("\r\n")
    password = getpass.getpass("password: ")
    if getpass.getpass("again: ") != password:
        raise CommandError("the two passwords differ")
    return password


def cmd_create_user(args, settings: Settings) -> None:
    from app.errors import AppError
    from app.users import service
    from app.users.schemas import UserCreate

    data = UserCreate(org_id=args.org, role=args.role, name=args.name, email=args.email, phone=args.phone, password=_read_password())
    try:
        with _session_scope(settings) as session:
            user_id = service.create(session, data=data).id
    except AppError as error:
        raise CommandError(error.msg) from None
    print(user_id)


def cmd_reindex(args, settings: Settings) -> None:
    from app.matching.keeper import IndexKeeper

    factory = _ready_session_factory(settings)
    settings.encoder_threads = os.cpu_count() or 1  # encoding is this command's whole work: use every core
    keeper = IndexKeeper.open(settings, factory, fresh=True, build=False)
    published, encoded = keeper.reindex(force=args.force, show_progress=True)
    total = keeper.load_stored()  # every process's view: the stored rows, without the tombstones of re-encoded records
    keeper.catch_up()
    keeper.save()
    if keeper.snapshot_every:  # on PostgreSQL: processes restarted with this encoder start from it
        keeper.write_snapshot()
    print(f"encoded {encoded} of {published} published records with {keeper.engine.encoder.name}", file=sys.stderr)
    print(f"indexed {total} published records into {settings.index_dir}", file=sys.stderr)


def cmd_import(args, settings: Settings) -> None:
    from pathlib import Path

    from tqdm import tqdm

    from app.auth import Principal
    from app.errors import AppError
    from app.imports import service
    from app.imports.models import ImportJob
    from app.organizations.models import Organization

    factory = _ready_session_factory(settings)
    path = Path(args.file)
    mode = "dry_run" if args.dry_run else "commit"
    owner = service.worker_id()
    try:
        with session_scope(factory) as session:
            if session.get(Organization, args.org) is None:
                raise AppError(f"organization {args.org} does not exist")
            # The command line acts as an owner of the organization (no API key: the history shows none).
            actor = Principal(key_id=None, org_id=args.org, role="owner")
            # Leased to this command from the start, so no worker takes it; if the command is
            # interrupted, a worker resumes the job once the lease has run out.
            job = service.create_job(
                session, settings=settings, side=args.side, mode=mode, all_or_nothing=args.all_or_nothing,
                filename=path.name, data=path.read_bytes(), actor=actor, owner=owner,
            )
            job_id = job.id
    except AppError as error:
        print(f"error: {error.msg}", file=sys.stderr)
        sys.exit(1)
    bar = tqdm(total=None, unit="row", desc=f"import {job_id}", file=sys.stderr)

    def progress(done: int, total: int) -> None:
        bar.total = total
        bar.n = done
        bar.refresh()

    status = service.run_job(factory, settings, job_id, owner=owner, progress=progress)
    bar.close()
    with session_scope(factory) as session:
        finished = session.get(ImportJob, job_id)
        if finished is None:  # deleted while it ran (run_job said "missing")
            print(f"error: import {job_id} no longer exists", file=sys.stderr)
            sys.exit(1)
        print(
            f"import {finished.id} ({finished.mode}) {status}: {finished.processed_rows} rows, {finished.created} created, "
            f"{finished.updated} updated, {finished.skipped} skipped, {finished.failed} failed"
            + (f"; {finished.message}" if finished.message else ""),
            file=sys.stderr,
        )
        for problem in finished.errors[:50]:
            print(f"  row {problem['row']} [{problem['column']}]: {problem['reason']}", file=sys.stderr)
        if len(finished.errors) > 50:
            print(f"  … {len(finished.errors) - 50} more (GET /api/v1/imports/{finished.id})", file=sys.stderr)
    if status != "done":
        sys.exit(1)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="techmatch", description="揭榜挂帅 dual-listing service")
    commands = parser.add_subparsers(dest="command", required=True)

    serve = commands.add_parser("serve", help="start the HTTP service")
    serve.add_argument("--host")
    serve.add_argument("--port", type=int)
    serve.add_argument(
        "--role", choices=["all", "serve"],
        help="all: HTTP and the bulk work in one process (the default, TECHMATCH_ROLE); serve: HTTP only, `techmatch worker` does the rest",
    )
    serve.set_defaults(run=cmd_serve)

    worker = commands.add_parser("worker", help="run imports, webhooks, reminders and index encoding without HTTP (until SIGTERM)")
    worker.set_defaults(run=cmd_worker)

    db = commands.add_parser("db", help="database migrations")
    db.add_argument("action", choices=["upgrade", "downgrade", "current"])
    db.add_argument("revision", nargs="?", help="target revision (default: head / one step down)")
    db.set_defaults(run=cmd_db)

    org = commands.add_parser("create-org", help="register an organization; prints its id")
    org.add_argument("--name", required=True)
    org.add_argument("--kind", required=True, choices=list(ORGANIZATION_KINDS))
    org.add_argument("--region", help="6-digit region code or 省/市/县 names")
    org.add_argument("--credit-code", help="统一社会信用代码")
    org.add_argument(
        "--broker-scope", choices=["province", "assigned"], default="assigned",
        help="for broker keys: act for every organization (the province's own brokers) or only for assigned ones",
    )
    org.set_defaults(run=cmd_create_org)

    key = commands.add_parser("create-key", help="issue an API key; prints the key (shown once)")
    key.add_argument("--org", type=int, required=True)
    key.add_argument("--role", required=True, choices=ROLES)
    key.add_argument("--label", default="")
    key.set_defaults(run=cmd_create_key)

    admin = commands.add_parser("create-admin", help="issue an admin key (creating the admin organization); prints the key")
    admin.add_argument("--org-name", default="科技厅")
    admin.set_defaults(run=cmd_create_admin)

    user = commands.add_parser(
        "create-user",
        help="add a person who signs in to the web pages; the password is asked for (or read from standard input); prints the id",
    )
    user.add_argument("--org", type=int, required=True)
    user.add_argument("--role", required=True, choices=ROLES)
    user.add_argument("--name", required=True)
    user.add_argument("--email", help="to sign in with (a phone number, an e-mail or both)")
    user.add_argument("--phone", help="a mainland mobile number, to sign in with")
    user.set_defaults(run=cmd_create_user)
    reindex = commands.add_parser(
        "reindex",
        help="encode the published records whose stored vector is missing or stale (for TECHMATCH_ENCODER), then rebuild "
             "the data directory's index from the stored vectors; running services keep serving meanwhile",
    )
    reindex.add_argument("--force", action="store_true", help="encode every published record again")
    reindex.set_defaults(run=cmd_reindex)

    imp = commands.add_parser("import", help="import demands or achievements from an .xlsx or .csv, with a progress bar")
    imp.add_argument("file", help=".xlsx, or .csv in UTF-8 or GBK/GB18030")
    imp.add_argument("--side", required=True, choices=SIDES)
    imp.add_argument("--org", type=int, required=True, help="the organization that owns the imported records")
    imp.add_argument("--dry-run", action="store_true", help="validate and report; write nothing")
    imp.add_argument("--all-or-nothing", action="store_true", help="import nothing if any row is bad (exit code 1)")
    imp.set_defaults(run=cmd_import)
    return parser


def main(argv: list[str] | None = None) -> None:
    args = build_parser().parse_args(argv)
    settings = Settings()
    handler = logging.StreamHandler(sys.stderr)
    handler.addFilter(RequestIdFilter())
    logging.basicConfig(
        level=settings.log_level, handlers=[handler], format="%(asctime)s %(levelname)s %(name)s [%(request_id)s]: %(message)s"
    )
    logging.getLogger("alembic.runtime.plugins").setLevel(logging.WARNING)
    # FAISS logs each CPU-specific build it tries (AVX512 missing, …) at INFO: noise, not errors.
    logging.getLogger("faiss.loader").setLevel(logging.WARNING)
    try:
        args.run(args, settings)
    except CommandError as error:
        print(f"error: {error}", file=sys.stderr)
        sys.exit(1)
    except Exception as error:  # the command line shows a message, not a traceback
        from pydantic import ValidationError

        if isinstance(error, ValidationError):
            for problem in error.errors():
                print(f"error: {'.'.join(map(str, problem['loc']))}: {problem['msg']}", file=sys.stderr)
        else:
            logging.getLogger("techmatch").exception("%s failed", args.command)
        sys.exit(1)
