"""Alembic environment: the URL comes from the caller or from techmatch's settings."""

from alembic import context

from app.config import Settings
from app.database import make_engine
from app.models_registry import Base

config = context.config
url = config.attributes.get("database_url") or Settings().resolved_database_url

engine = make_engine(url)
with engine.connect() as connection:
    if connection.dialect.name == "sqlite":
        # Batch migrations rebuild SQLite tables (copy, drop, rename); with foreign keys on, dropping
        # a parent table would cascade into its children. Off for the migration (it can only be set
        # outside a transaction, hence on the driver's connection); migrations that rebuild check
        # `PRAGMA foreign_key_check` themselves.
        connection.connection.driver_connection.execute("PRAGMA foreign_keys=OFF")
    context.configure(
        connection=connection,
        target_metadata=Base.metadata,
        render_as_batch=connection.dialect.name == "sqlite",
    )
    with context.begin_transaction():
        context.run_migrations()
engine.dispose()
