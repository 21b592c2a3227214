"""Alembic environment: the URL comes from the caller or from techmatch's settings."""

from alembic import context

from app.config import Settings
from app.database import make_engine
from app.models_registry import Base

config = context.config
url = config.attributes.get("database_url") or Settings().resolved_database_url

engine = make_engine(url)
with engine.connect() as connection:
    context.configure(
        connection=connection,
        target_metadata=Base.metadata,
        render_as_batch=connection.dialect.name == "sqlite",
    )
    with context.begin_transaction():
        context.run_migrations()
engine.dispose()
