"""Remove control characters already stored in demands and achievements

Such characters are refused at input from now on; records stored before keep breaking
spreadsheet exports until cleaned. Each cleaned record gets a new version, a history entry
naming every field that changed (old and new value, actor: this migration) and an index
change, so nothing published changes silently.

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-26
"""

import re
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None

_CONTROL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")
_SIDES = {"demands": "demand", "achievements": "achievement"}
_BOOKKEEPING = {"status", "region_code", "region_province", "region_city"}


def _clean(value: Any) -> Any:
    if isinstance(value, str):
        return _CONTROL.sub("", value)
    if isinstance(value, list):
        return [_clean(item) for item in value]
    if isinstance(value, dict):
        return {_clean(key): _clean(item) for key, item in value.items()}
    return value


def upgrade() -> None:
    connection = op.get_bind()
    metadata = sa.MetaData()
    history = sa.Table("change_history", metadata, autoload_with=connection)
    changes_log = sa.Table("index_changes", metadata, autoload_with=connection)
    now = datetime.now(UTC).replace(tzinfo=None) if connection.dialect.name == "sqlite" else datetime.now(UTC)
    for table_name, entity_type in _SIDES.items():
        table = sa.Table(table_name, metadata, autoload_with=connection)
        text_columns = [
            column for column in table.columns
            if isinstance(column.type, sa.String | sa.Text | sa.JSON) and column.name not in _BOOKKEEPING
        ]
        for row in connection.execute(sa.select(table.c.id, *text_columns)).mappings().all():
            cleaned = {column.name: _clean(row[column.name]) for column in text_columns}
            changed = {name: value for name, value in cleaned.items() if value != row[name]}
            if not changed:
                continue
            connection.execute(
                table.update().where(table.c.id == row["id"]).values(**changed, version=table.c.version + 1, updated_at=now)
            )
            connection.execute(
                history.insert().values(
                    entity_type=entity_type,
                    entity_id=row["id"],
                    action="update",
                    changes={
                        **{name: {"old": row[name], "new": value} for name, value in changed.items()},
                        "reason": "control characters removed (migration 0008)",
                    },
                    actor_key_id=None,
                    actor_org_id=None,
                    at=now,
                )
            )
            connection.execute(changes_log.insert().values(side=table_name, record_id=row["id"], at=now))


def downgrade() -> None:
    """The removed characters were never meant to be there: nothing to restore."""
