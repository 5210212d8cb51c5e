"""Per-process resources of a worker: one Database and one Redis client per process.

Prefork children open their own in `worker_process_init` (an engine must never cross a fork);
the solo pool and beat never fire that signal, so the accessors also open lazily.
"""

from __future__ import annotations

import redis

from bridge.db import Database
from config.settings import get_settings

_database: Database | None = None
_redis: redis.Redis | None = None


def database() -> Database:
    global _database
    if _database is None:
        _database = Database.from_settings(get_settings())
    return _database


def broker_redis() -> redis.Redis:
    """A plain client on the broker's Redis (queue depth, locks); not Celery's connection."""
    global _redis
    if _redis is None:
        _redis = redis.Redis.from_url(
            get_settings().broker_url,
            socket_timeout=10,
            socket_connect_timeout=5,
            socket_keepalive=True,
            health_check_interval=25,
        )
    return _redis


def open_resources() -> None:
    """Drop whatever a parent process left behind and open fresh ones."""
    global _database, _redis
    _database = None
    _redis = None
    database()


def close_resources() -> None:
    global _database, _redis
    if _database is not None:
        _database.dispose()
        _database = None
    if _redis is not None:
        _redis.close()
        _redis = None
