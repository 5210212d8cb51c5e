"""Run SOQL against the store and page results in batches, with query locators.

The first call materialises the ordered row ids (a cheap index scan); each page then reads its
rows by rowid. `nextRecordsUrl` is `/services/data/vXX.X/query/{locator}-{offset}`.
"""

from __future__ import annotations

import secrets
import time
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any

from sandbox.errors import SalesforceError
from sandbox.fields import to_json
from sandbox.ids import make_id
from sandbox.schema import Schema
from sandbox.soql.compiler import CompiledQuery, compile_query
from sandbox.soql.parser import parse_soql
from sandbox.store import Database

DEFAULT_BATCH = 2000
MIN_BATCH = 200
CURSOR_TTL_SECONDS = 15 * 60
MAX_CURSORS = 500


@dataclass
class Cursor:
    compiled: CompiledQuery
    rowids: list[int]
    batch_size: int
    created: float


def _invalid_locator() -> SalesforceError:
    return SalesforceError("INVALID_QUERY_LOCATOR", "invalid query locator")


class QueryEngine:
    def __init__(self, db: Database, schema: Schema) -> None:
        self.db = db
        self.schema = schema
        self.cursors: OrderedDict[str, Cursor] = OrderedDict()

    def run(
        self, soql: str, *, include_deleted: bool, version: str, batch_size: int = DEFAULT_BATCH
    ) -> dict[str, Any]:
        query = parse_soql(soql)
        compiled = compile_query(self.schema, query, soql, include_deleted=include_deleted)
        if compiled.count:
            sql = (
                f"SELECT COUNT(*) FROM (SELECT 1 {compiled.from_sql()}"  # noqa: S608
                f"{compiled.where_sql()}{compiled.tail_sql()})"
            )
            total = int(self.db.conn.execute(sql, compiled.params).fetchone()[0])
            return {"totalSize": total, "done": True, "records": []}
        sql = (
            f"SELECT t0.rowid {compiled.from_sql()}{compiled.where_sql()}"
            f"{compiled.order_sql()}{compiled.tail_sql()}"
        )
        rowids = [int(r[0]) for r in self.db.conn.execute(sql, compiled.params)]
        batch = max(MIN_BATCH, min(DEFAULT_BATCH, batch_size))
        cursor = Cursor(compiled, rowids, batch, time.monotonic())
        locator = make_id("01g", secrets.randbelow(62**10))
        return self._page(locator, cursor, 0, version)

    def more(self, locator: str, offset: int, version: str) -> dict[str, Any]:
        self._expire()
        cursor = self.cursors.get(locator)
        if cursor is None or offset < 0 or offset > len(cursor.rowids):
            raise _invalid_locator()
        return self._page(locator, cursor, offset, version)

    def _expire(self) -> None:
        horizon = time.monotonic() - CURSOR_TTL_SECONDS
        for key in [k for k, c in self.cursors.items() if c.created < horizon]:
            del self.cursors[key]
        while len(self.cursors) > MAX_CURSORS:
            self.cursors.popitem(last=False)

    def _page(self, locator: str, cursor: Cursor, offset: int, version: str) -> dict[str, Any]:
        page_ids = cursor.rowids[offset : offset + cursor.batch_size]
        records = self._records(cursor.compiled, page_ids, version)
        end = offset + len(page_ids)
        done = end >= len(cursor.rowids)
        body: dict[str, Any] = {"totalSize": len(cursor.rowids), "done": done}
        if done:
            self.cursors.pop(locator, None)
        else:
            self.cursors[locator] = cursor
            self._expire()
            body["nextRecordsUrl"] = f"/services/data/v{version}/query/{locator}-{end}"
        body["records"] = records
        return body

    def _records(self, compiled: CompiledQuery, rowids: list[int], version: str) -> list[Any]:
        if not rowids:
            return []
        join_ids = sorted(
            {s.alias: s for c in compiled.columns for s in c.steps}.values(),
            key=lambda s: s.alias,
        )
        select = ["t0.rowid", 't0."Id"']
        select += [f'{s.alias}."Id"' for s in join_ids]
        select += [c.sql for c in compiled.columns]
        sql = (
            f"SELECT {', '.join(select)} {compiled.from_sql()} "
            f"WHERE t0.rowid IN ({', '.join('?' for _ in rowids)})"
        )
        by_rowid = {row[0]: row for row in self.db.conn.execute(sql, rowids)}
        alias_index = {s.alias: 2 + i for i, s in enumerate(join_ids)}
        first_column = 2 + len(join_ids)
        obj = compiled.obj
        out: list[Any] = []
        for rowid in rowids:
            row = by_rowid.get(rowid)
            if row is None:
                continue
            record: dict[str, Any] = {
                "attributes": {"type": obj.name, "url": obj.url(version, row[1])}
            }
            for position, column in enumerate(compiled.columns):
                target = record
                for step in column.steps:
                    parent_id = row[alias_index[step.alias]]
                    if parent_id is None:
                        target[step.relationship] = None
                        target = {}
                        break
                    existing = target.get(step.relationship)
                    if not isinstance(existing, dict):
                        existing = {
                            "attributes": {
                                "type": step.obj.name,
                                "url": step.obj.url(version, parent_id),
                            }
                        }
                        target[step.relationship] = existing
                    target = existing
                else:
                    target[column.field.name] = to_json(column.field, row[first_column + position])
            out.append(record)
        return out
