"""The SQL store: one engine per process, one declarative base, Alembic migrations."""

from bridge.db.base import Base, utcnow
from bridge.db.engine import Database

__all__ = ["Base", "Database", "utcnow"]
