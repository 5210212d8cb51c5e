"""Imports every domain's tables so `Base.metadata` is complete (Alembic, tests)."""

from bridge.agents import tables as agents_tables
from bridge.credits import tables as credits_tables
from bridge.db.base import Base
from bridge.deadletters import tables as deadletters_tables
from bridge.forms import tables as forms_tables
from bridge.logs import tables as logs_tables
from bridge.routing import tables as routing_tables
from bridge.tenants import tables as tenants_tables
from bridge.triggers import tables as triggers_tables
from bridge.workflows import tables as workflows_tables

metadata = Base.metadata

__all__ = [
    "agents_tables",
    "credits_tables",
    "deadletters_tables",
    "forms_tables",
    "logs_tables",
    "metadata",
    "routing_tables",
    "tenants_tables",
    "triggers_tables",
    "workflows_tables",
]
