"""Alembic, driven from code: used by `techmatch db ...`, by the start-up check and by tests."""

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Engine

from app.config import REPO_ROOT


def alembic_config(database_url: str) -> Config:
    config = Config(str(REPO_ROOT / "alembic.ini"))
    config.set_main_option("script_location", str(REPO_ROOT / "migrations"))
    config.attributes["database_url"] = database_url
    return config


def upgrade(database_url: str, revision: str = "head") -> None:
    command.upgrade(alembic_config(database_url), revision)


def downgrade(database_url: str, revision: str) -> None:
    command.downgrade(alembic_config(database_url), revision)


def pending_message(engine: Engine, database_url: str) -> str | None:
    """Why the database cannot be served yet, or None when it is at the latest revision."""
    head = ScriptDirectory.from_config(alembic_config(database_url)).get_current_head()
    with engine.connect() as connection:
        current = MigrationContext.configure(connection).get_current_revision()
    if current == head:
        return None
    return (
        f"database {engine.url.render_as_string(hide_password=True)} is at revision "
        f"{current or 'none'}, the code needs {head}: run `techmatch db upgrade` (or `make run`)"
    )
