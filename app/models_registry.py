"""Imports every table so `Base.metadata` is complete (for Alembic and tests)."""

from app.accounts.models import ApiKey
from app.achievements.models import Achievement
from app.database import Base
from app.demands.models import Demand
from app.history.models import ChangeRecord
from app.matching.models import IndexChange
from app.organizations.models import Organization

__all__ = ["Base", "Organization", "ApiKey", "Demand", "Achievement", "ChangeRecord", "IndexChange"]
