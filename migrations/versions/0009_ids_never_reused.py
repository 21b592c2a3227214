"""Ids are never handed out twice on SQLite (AUTOINCREMENT on every table with its own id)

Without AUTOINCREMENT, SQLite gives a new row the largest id in use plus one: after a purge the
next demand took the purged demand's id, and an old notification about proposal 1 pointed at a
new proposal 1. Each table is rebuilt with AUTOINCREMENT (copy, drop, rename; foreign keys are
off during migrations, see env.py, and checked afterwards). PostgreSQL sequences never go back,
so nothing changes there.

Revision ID: 0009
Revises: 0008
Create Date: 2026-11-26
"""

from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None

# Every table whose rows have their own integer id (index_changes has had AUTOINCREMENT since 0002;
# webhooks are keyed by their organization).
TABLES = (
    "organizations", "api_keys", "demands", "achievements", "change_history", "import_jobs", "import_links",
    "notifications", "interests", "match_feedback", "proposals", "milestones", "shortlist_entries",
    "contact_records", "contracts", "webhook_outbox", "broker_assignments",
)


def _rebuild(autoincrement: bool) -> None:
    connection = op.get_bind()
    if connection.dialect.name != "sqlite":
        return
    for table in TABLES:
        with op.batch_alter_table(table, recreate="always", table_kwargs={"sqlite_autoincrement": autoincrement}):
            pass
    broken = connection.exec_driver_sql("PRAGMA foreign_key_check").all()
    if broken:
        raise RuntimeError(f"foreign keys broken by the rebuild: {broken[:5]}")


def upgrade() -> None:
    _rebuild(autoincrement=True)


def downgrade() -> None:
    _rebuild(autoincrement=False)

