"""The sandbox's SQLite file: one table per object, plus meta, sessions, usage and keys.

Table and column names in SQL text come from the schema, never from input.

Every write goes through `Database.transaction()` (BEGIN IMMEDIATE), so the server and a
seeding process may share the file safely (WAL mode, busy timeout).
"""

from __future__ import annotations

import secrets
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta
from pathlib import Path
from typing import Any

from sandbox.ids import make_id
from sandbox.schema import ObjectDef, Schema
from sandbox.standard_objects import LEAD_STATUSES
from sandbox.timefmt import format_datetime, now, parse_datetime

INTEGRATION_USERNAME = "integration@sandbox.bridge.local"
_META_TABLES = """
CREATE TABLE IF NOT EXISTS _meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS _sessions (
    token TEXT PRIMARY KEY, user_id TEXT NOT NULL, client_id TEXT NOT NULL,
    issued_at REAL NOT NULL, expires_at REAL NOT NULL);
CREATE TABLE IF NOT EXISTS _api_usage (day TEXT PRIMARY KEY, used INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS _jwt_keys (id INTEGER PRIMARY KEY, pem TEXT NOT NULL UNIQUE);
"""


def quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


class Database:
    def __init__(self, path: Path, schema: Schema) -> None:
        self.path = path
        self.schema = schema
        self.conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
        self.conn.row_factory = sqlite3.Row
        self.conn.execute("PRAGMA journal_mode=WAL")
        self.conn.execute("PRAGMA busy_timeout=30000")
        self.conn.execute("PRAGMA synchronous=NORMAL")
        self._depth = 0
        self.migrate()

    def close(self) -> None:
        self.conn.close()

    # --- transactions -------------------------------------------------------------------
    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """A write transaction; nested calls become savepoints."""
        if self._depth:
            with self.savepoint():
                yield self.conn
            return
        self.conn.execute("BEGIN IMMEDIATE")
        self._depth += 1
        try:
            yield self.conn
        except BaseException:
            self.conn.execute("ROLLBACK")
            raise
        else:
            self.conn.execute("COMMIT")
        finally:
            self._depth -= 1

    @contextmanager
    def savepoint(self) -> Iterator[None]:
        name = f"sp{self._depth}"
        self.conn.execute(f"SAVEPOINT {name}")
        self._depth += 1
        try:
            yield
        except BaseException:
            self.conn.execute(f"ROLLBACK TO {name}")
            self.conn.execute(f"RELEASE {name}")
            raise
        else:
            self.conn.execute(f"RELEASE {name}")
        finally:
            self._depth -= 1

    # --- schema -------------------------------------------------------------------------
    def migrate(self) -> None:
        with self.transaction() as conn:
            for statement in _META_TABLES.split(";"):
                if statement.strip():
                    conn.execute(statement)
            for obj in self.schema.objects.values():
                self._migrate_object(conn, obj)
            if self.get_meta("org_id") is None:
                self._initialize(conn)

    def _migrate_object(self, conn: sqlite3.Connection, obj: ObjectDef) -> None:
        table = quote(obj.name)
        columns = ", ".join(
            f"{quote(f.name)} {f.sql_type}" + (" PRIMARY KEY" if f.name == "Id" else "")
            for f in obj.fields.values()
        )
        conn.execute(f"CREATE TABLE IF NOT EXISTS {table} ({columns})")
        existing = {row["name"] for row in conn.execute(f"PRAGMA table_info({table})")}
        for f in obj.fields.values():
            if f.name not in existing:
                conn.execute(f"ALTER TABLE {table} ADD COLUMN {quote(f.name)} {f.sql_type}")
        conn.execute(
            f"CREATE INDEX IF NOT EXISTS {quote('ix_' + obj.name + '_modstamp')} "
            f'ON {table} ("SystemModstamp", "Id")'
        )
        conn.execute(
            f"CREATE INDEX IF NOT EXISTS {quote('ix_' + obj.name + '_lastmod')} "
            f'ON {table} ("LastModifiedDate", "Id")'
        )
        for name in ("Email", "OwnerId", "AccountId", "Username"):
            if name in obj.fields:
                conn.execute(
                    f"CREATE INDEX IF NOT EXISTS {quote('ix_' + obj.name + '_' + name)} "
                    f"ON {table} ({quote(name)})"
                )

    def _initialize(self, conn: sqlite3.Connection) -> None:
        org_id = make_id("00D", secrets.randbelow(62**6))
        self.set_meta("org_id", org_id)
        stamp = self.next_modstamp()
        user_id = self.next_id("005")
        self.insert_row(
            "User",
            {
                "Id": user_id, "IsDeleted": 0, "CreatedDate": stamp, "CreatedById": user_id,
                "LastModifiedDate": stamp, "LastModifiedById": user_id, "SystemModstamp": stamp,
                "Username": INTEGRATION_USERNAME, "FirstName": "Bridge", "LastName": "Integration",
                "Name": "Bridge Integration", "Email": INTEGRATION_USERNAME, "Alias": "integ",
                "IsActive": 1, "Title": "Integration User", "TimeZoneSidKey": "UTC",
            },
        )  # fmt: skip
        self.set_meta("integration_user_id", user_id)
        for order, (api_name, converted, default) in enumerate(LEAD_STATUSES, start=1):
            self.insert_row(
                "LeadStatus",
                {
                    "Id": self.next_id("01J"), "IsDeleted": 0, "CreatedDate": stamp,
                    "CreatedById": user_id, "LastModifiedDate": stamp,
                    "LastModifiedById": user_id, "SystemModstamp": stamp, "ApiName": api_name,
                    "MasterLabel": api_name, "IsConverted": int(converted),
                    "IsDefault": int(default), "SortOrder": order,
                },
            )  # fmt: skip

    def reset(self) -> None:
        """Drop every record except the integration user and the lead statuses.

        The org id, the integration user, issued tokens and JWT keys stay, so clients keep
        working; the API usage counter starts again at zero.
        """
        keep = self.integration_user_id
        with self.transaction() as conn:
            for obj in self.schema.objects.values():
                if obj.name == "LeadStatus":
                    continue
                conn.execute(
                    f'DELETE FROM {quote(obj.name)} WHERE "Id" != ?',  # noqa: S608
                    (keep,),
                )
            conn.execute("DELETE FROM _api_usage")

    # --- meta, counters, clock ----------------------------------------------------------
    def get_meta(self, key: str) -> str | None:
        row = self.conn.execute("SELECT value FROM _meta WHERE key = ?", (key,)).fetchone()
        return None if row is None else str(row[0])

    def set_meta(self, key: str, value: str) -> None:
        self.conn.execute(
            "INSERT INTO _meta(key, value) VALUES (?, ?) "
            "ON CONFLICT(key) DO UPDATE SET value = excluded.value",
            (key, value),
        )

    def next_id(self, prefix: str) -> str:
        """A new 18-character id; call inside a transaction."""
        key = f"counter:{prefix}"
        counter = int(self.get_meta(key) or "0") + 1
        self.set_meta(key, str(counter))
        return make_id(prefix, counter)

    def next_ids(self, prefix: str, count: int) -> list[str]:
        key = f"counter:{prefix}"
        start = int(self.get_meta(key) or "0")
        self.set_meta(key, str(start + count))
        return [make_id(prefix, start + i) for i in range(1, count + 1)]

    def next_modstamp(self) -> str:
        """Now, in Salesforce format, strictly later than the previous write's stamp."""
        t = now()  # one reading: two could straddle a second and go back almost a second
        moment = t.replace(microsecond=t.microsecond // 1000 * 1000)
        last = self.get_meta("last_modstamp")
        if last is not None:
            floor = parse_datetime(last) + timedelta(milliseconds=1)
            moment = max(moment, floor)
        stamp = format_datetime(moment)
        self.set_meta("last_modstamp", stamp)
        return stamp

    @property
    def org_id(self) -> str:
        return self.get_meta("org_id") or ""

    @property
    def integration_user_id(self) -> str:
        return self.get_meta("integration_user_id") or ""

    # --- rows ---------------------------------------------------------------------------
    def insert_row(self, object_name: str, row: dict[str, Any]) -> None:
        names = list(row)
        self.conn.execute(
            f"INSERT INTO {quote(object_name)} ({', '.join(map(quote, names))}) "  # noqa: S608
            f"VALUES ({', '.join('?' for _ in names)})",
            [row[n] for n in names],
        )

    def insert_rows(self, object_name: str, rows: list[dict[str, Any]]) -> None:
        if not rows:
            return
        names = sorted({n for row in rows for n in row})
        self.conn.executemany(
            f"INSERT INTO {quote(object_name)} ({', '.join(map(quote, names))}) "  # noqa: S608
            f"VALUES ({', '.join('?' for _ in names)})",
            [[row.get(n) for n in names] for row in rows],
        )

    def update_row(self, object_name: str, record_id: str, changes: dict[str, Any]) -> None:
        names = list(changes)
        self.conn.execute(
            f"UPDATE {quote(object_name)} "  # noqa: S608  (schema names, bound values)
            f"SET {', '.join(quote(n) + ' = ?' for n in names)} "
            'WHERE "Id" = ?',
            [*(changes[n] for n in names), record_id],
        )

    def fetch_row(self, object_name: str, record_id: str) -> dict[str, Any] | None:
        row = self.conn.execute(
            f'SELECT * FROM {quote(object_name)} WHERE "Id" = ?',  # noqa: S608
            (record_id,),
        ).fetchone()
        return None if row is None else dict(row)

    def find_user(self, username: str) -> dict[str, Any] | None:
        row = self.conn.execute(
            'SELECT * FROM "User" WHERE "Username" = ? AND "IsDeleted" = 0', (username,)
        ).fetchone()
        return None if row is None else dict(row)

    def converted_statuses(self) -> list[str]:
        rows = self.conn.execute(
            'SELECT "ApiName" FROM "LeadStatus" WHERE "IsConverted" = 1 AND "IsDeleted" = 0'
        )
        return [str(r[0]) for r in rows]
