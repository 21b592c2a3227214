"""Writing and reading the change history."""

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.auth import Principal
from app.history.models import ChangeRecord


def record(
    session: Session, *, entity_type: str, entity_id: int, action: str, changes: dict, actor: Principal
) -> None:
    """Append one history row in the caller's transaction."""
    session.add(
        ChangeRecord(
            entity_type=entity_type,
            entity_id=entity_id,
            action=action,
            changes=changes,
            actor_key_id=actor.key_id,
            actor_user_id=actor.user_id,
            actor_org_id=actor.org_id,
        )
    )


def get_for(session: Session, *, entity_type: str, entity_id: int) -> list[ChangeRecord]:
    """Every change to one record, oldest first."""
    query = (
        select(ChangeRecord)
        .where(ChangeRecord.entity_type == entity_type, ChangeRecord.entity_id == entity_id)
        .order_by(ChangeRecord.id)
    )
    return list(session.scalars(query))
