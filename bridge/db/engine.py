"""Engine and sessions. Domain stores take a `Database` and open short transactions on it."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from sqlalchemy import Engine, create_engine, event, text
from sqlalchemy.orm import Session, sessionmaker

from config.settings import Settings


class Database:
    def __init__(self, url: str, *, echo: bool = False) -> None:
        self.url = url
        self.is_sqlite = url.startswith("sqlite")
        if self.is_sqlite:
            path = url.removeprefix("sqlite:///")
            if path and path != ":memory:":
                Path(path).parent.mkdir(parents=True, exist_ok=True)
            self.engine: Engine = create_engine(
                url, echo=echo, connect_args={"timeout": 30, "check_same_thread": False}
            )
            event.listen(self.engine, "connect", _sqlite_pragmas)
            # pysqlite's own BEGIN handling defers the lock; take it at the start instead, so
            # read-then-write transactions cannot deadlock against each other.
            event.listen(self.engine, "begin", lambda conn: conn.exec_driver_sql("BEGIN IMMEDIATE"))
            # Reads take no write lock: WAL lets them run beside a writer.
            self.read_engine: Engine = create_engine(
                url, echo=echo, connect_args={"timeout": 30, "check_same_thread": False}
            )
            event.listen(self.read_engine, "connect", _sqlite_pragmas)
            event.listen(self.read_engine, "begin", lambda conn: conn.exec_driver_sql("BEGIN"))
        else:
            self.engine = create_engine(
                url, echo=echo, pool_pre_ping=True, pool_size=10, max_overflow=20
            )
            self.read_engine = self.engine
        self._sessions = sessionmaker(self.engine, expire_on_commit=False)
        self._readers = sessionmaker(self.read_engine, expire_on_commit=False)

    @classmethod
    def from_settings(cls, settings: Settings) -> Database:
        return cls(settings.sqlalchemy_url)

    @contextmanager
    def session(self) -> Iterator[Session]:
        """One transaction: committed on success, rolled back on error."""
        with self._sessions.begin() as session:
            yield session

    @contextmanager
    def read(self) -> Iterator[Session]:
        """A read-only transaction. On SQLite it does not take the write lock (use `session()`
        for anything that writes, or reads in order to write)."""
        with self._readers.begin() as session:
            yield session

    def ping(self) -> None:
        with self.engine.connect() as conn:
            conn.execute(text("SELECT 1"))

    def dispose(self) -> None:
        self.engine.dispose()
        if self.read_engine is not self.engine:
            self.read_engine.dispose()


def _sqlite_pragmas(dbapi_conn: object, _record: object) -> None:
    # Let pysqlite leave transaction control to the "begin" listener above.
    dbapi_conn.isolation_level = None  # type: ignore[attr-defined]
    cursor = dbapi_conn.cursor()  # type: ignore[attr-defined]
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.close()
