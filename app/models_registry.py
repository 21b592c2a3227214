"""Imports every table so `Base.metadata` is complete (for Alembic and tests)."""

from app.accounts.models import ApiKey
from app.achievements.models import Achievement
from app.brokerage.models import BrokerAssignment, ContactRecord, MatchFeedback, ShortlistEntry
from app.changelog import IndexChange
from app.contracts.models import Contract
from app.database import Base
from app.demands.models import Demand
from app.dispatch.models import AnnouncedMatch, DigestItem, DispatchCursor, DispatchOptOut, SavedSearch, SavedSearchHit
from app.history.models import ChangeRecord
from app.imports.models import ImportFile, ImportJob, ImportLink
from app.interests.models import Interest
from app.matching.models import IndexSnapshot, IndexSnapshotPart, RecordVector, StoredEncoder
from app.notifications.models import Notification
from app.organizations.models import Organization
from app.proposals.models import Milestone, Proposal
from app.users.models import User, WebSession
from app.webhooks.models import OutboxMessage, Webhook

__all__ = [
    "Base", "Organization", "ApiKey", "Demand", "Achievement", "ChangeRecord", "IndexChange", "RecordVector",
    "IndexSnapshot", "IndexSnapshotPart", "StoredEncoder",
    "ImportJob", "ImportFile", "ImportLink", "Proposal", "Milestone", "Interest", "Notification", "BrokerAssignment",
    "ShortlistEntry", "ContactRecord", "MatchFeedback", "Contract", "Webhook", "OutboxMessage",
    "DispatchCursor", "AnnouncedMatch", "DigestItem", "DispatchOptOut", "SavedSearch", "SavedSearchHit",
    "User", "WebSession",
]

# On SQLite every row with its own integer id is AUTOINCREMENT (migration 0009): an id, once
# handed out, is never handed out again, even after a purge, so an old notification or webhook
# never points at someone else's record. PostgreSQL sequences already behave so.
for _table in Base.metadata.tables.values():
    if [column.name for column in _table.primary_key.columns] == ["id"]:
        _table.dialect_options["sqlite"]["autoincrement"] = True
