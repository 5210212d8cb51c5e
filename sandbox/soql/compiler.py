"""`Query` -> SQLite: parent fields become LEFT JOINs, literals become bound parameters.

Salesforce semantics kept: string comparisons are case-insensitive (NOCASE columns), `!=` and
`NOT IN` match nulls, `NOT` works on two-valued logic, 15-character ids match their 18-character
form, date literals (TODAY, LAST_N_DAYS:n, ...) cover whole days.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any

from sandbox.errors import SalesforceError
from sandbox.ids import normalize_id
from sandbox.schema import NUMBER_TYPES, TEXT_TYPES, FieldDef, ObjectDef, Schema
from sandbox.soql.ast import BoolOp, Comparison, Condition, FieldRef, Literal, Not, Query
from sandbox.store import quote
from sandbox.timefmt import format_datetime, normalize_datetime

MAX_OFFSET = 2000


@dataclass(frozen=True)
class Step:
    """One hop along a relationship: `Owner` from Lead to User."""

    relationship: str
    obj: ObjectDef
    alias: str


@dataclass(frozen=True)
class SelectColumn:
    steps: tuple[Step, ...]
    field: FieldDef
    sql: str


@dataclass
class CompiledQuery:
    obj: ObjectDef
    count: bool
    columns: list[SelectColumn]
    joins: list[str] = field(default_factory=list)
    where: list[str] = field(default_factory=list)
    params: list[Any] = field(default_factory=list)
    order: list[str] = field(default_factory=list)
    limit: int | None = None
    offset: int | None = None

    def from_sql(self) -> str:
        return " ".join([f"FROM {quote(self.obj.name)} t0", *self.joins])

    def where_sql(self) -> str:
        return f" WHERE {' AND '.join(self.where)}" if self.where else ""

    def order_sql(self) -> str:
        return f" ORDER BY {', '.join(self.order)}" if self.order else ""

    def tail_sql(self) -> str:
        tail = ""
        if self.limit is not None or self.offset is not None:
            tail += f" LIMIT {self.limit if self.limit is not None else -1}"
        if self.offset is not None:
            tail += f" OFFSET {self.offset}"
        return tail


def _filter_error(message: str) -> SalesforceError:
    return SalesforceError("INVALID_QUERY_FILTER_OPERATOR", message)


class _Compiler:
    def __init__(self, schema: Schema, query: Query, soql: str) -> None:
        self.schema = schema
        self.query = query
        self.soql = soql
        obj = schema.get(query.sobject)
        if obj is None:
            raise SalesforceError(
                "INVALID_TYPE",
                f"\n{soql}\nsObject type '{query.sobject}' is not supported. If you are "
                "attempting to use a custom object, be sure to append the '__c' after the entity "
                "name. Please reference your WSDL or the describe call for the appropriate names.",
            )
        self.obj = obj
        self.joins: dict[tuple[str, ...], Step] = {}
        self.join_sql: list[str] = []

    # --- field paths --------------------------------------------------------------------
    def resolve(self, ref: FieldRef) -> tuple[tuple[Step, ...], FieldDef, str]:
        obj, alias = self.obj, "t0"
        steps: list[Step] = []
        key: tuple[str, ...] = ()
        for segment in ref.path[:-1]:
            rel = obj.relationship(segment)
            target = self.schema.get(rel.reference_to or "") if rel else None
            if rel is None or target is None or rel.relationship_name is None:
                raise SalesforceError(
                    "INVALID_FIELD",
                    f"\n{self.soql}\nDidn't understand relationship '{segment}' in field path. "
                    "If you are attempting to use a custom relationship, be sure to append the "
                    "'__r' after the custom relationship name.",
                )
            key = (*key, rel.relationship_name)
            step = self.joins.get(key)
            if step is None:
                step = Step(rel.relationship_name, target, f"t{len(self.joins) + 1}")
                self.joins[key] = step
                self.join_sql.append(
                    f"LEFT JOIN {quote(target.name)} {step.alias} "
                    f'ON {step.alias}."Id" = {alias}.{quote(rel.name)}'
                )
            steps.append(step)
            obj, alias = target, step.alias
        f = obj.field(ref.path[-1])
        if f is None:
            raise SalesforceError(
                "INVALID_FIELD",
                f"\n{self.soql}\nNo such column '{ref.path[-1]}' on entity '{obj.name}'. If you "
                "are attempting to use a custom field, be sure to append the '__c' after the "
                "custom field name. Please reference your WSDL or the describe call for the "
                "appropriate names.",
            )
        return tuple(steps), f, f"{alias}.{quote(f.name)}"

    # --- literals -----------------------------------------------------------------------
    def value(self, f: FieldDef, lit: Literal) -> Any:
        kind = lit.kind
        if kind == "null":
            return None
        if f.type in ("id", "reference"):
            normalized = normalize_id(lit.value) if kind == "string" else None
            if normalized is None:
                raise _filter_error(f"invalid ID field: {lit.value}")
            return normalized
        if f.type == "boolean":
            if kind != "boolean":
                raise _filter_error(
                    f"value of filter criterion for field '{f.name}' must be of type boolean "
                    "and should not be enclosed in quotes"
                )
            return int(lit.value)
        if f.type in NUMBER_TYPES:
            if kind != "number":
                raise _filter_error(
                    f"value of filter criterion for field '{f.name}' must be of type "
                    f"{'integer' if f.type == 'int' else 'double'} and should not be enclosed "
                    "in quotes"
                )
            return lit.value
        if f.type == "date":
            if kind != "date":
                raise _filter_error(
                    f"value of filter criterion for field '{f.name}' must be of type date and "
                    "should not be enclosed in quotes"
                )
            return lit.value
        if f.type == "datetime":
            if kind != "datetime":
                raise _filter_error(
                    f"value of filter criterion for field '{f.name}' must be of type dateTime "
                    "and should not be enclosed in quotes"
                )
            return normalize_datetime(lit.value)
        if kind != "string":
            raise _filter_error(
                f"value of filter criterion for field '{f.name}' must be of type string and "
                "should be enclosed in quotes"
            )
        return lit.value

    @staticmethod
    def date_range(f: FieldDef, literal: str) -> tuple[str, str]:
        today = datetime.now(UTC).date()
        name, _, number = literal.partition(":")
        start, end = {
            "TODAY": (today, today + timedelta(days=1)),
            "YESTERDAY": (today - timedelta(days=1), today),
            "TOMORROW": (today + timedelta(days=1), today + timedelta(days=2)),
            "LAST_N_DAYS": (today - timedelta(days=int(number or 0)), today + timedelta(days=1)),
            "NEXT_N_DAYS": (
                today + timedelta(days=1),
                today + timedelta(days=1 + int(number or 0)),
            ),
        }[name]
        if f.type == "date":
            return start.isoformat(), end.isoformat()

        def as_datetime(day: date) -> str:
            return format_datetime(datetime(day.year, day.month, day.day, tzinfo=UTC))

        return as_datetime(start), as_datetime(end)

    # --- conditions ---------------------------------------------------------------------
    def condition(self, cond: Condition, params: list[Any]) -> str:
        if isinstance(cond, BoolOp):
            joined = f" {cond.op} ".join(self.condition(c, params) for c in cond.items)
            return f"({joined})"
        if isinstance(cond, Not):
            return f"(NOT IFNULL({self.condition(cond.inner, params)}, 0))"
        return self.comparison(cond, params)

    def comparison(self, cmp: Comparison, params: list[Any]) -> str:
        _, f, col = self.resolve(cmp.field)
        if cmp.op in ("IN", "NOT IN"):
            assert isinstance(cmp.value, tuple)
            values = [self.value(f, v) for v in cmp.value]
            present = [v for v in values if v is not None]
            has_null = len(present) != len(values)
            marks = ", ".join("?" for _ in present)
            params.extend(present)
            if cmp.op == "IN":
                parts = [f"{col} IN ({marks})"] if present else []
                if has_null:
                    parts.append(f"{col} IS NULL")
                return f"({' OR '.join(parts)})"
            base = f"{col} NOT IN ({marks})" if present else "1"
            null_part = f"{col} IS NOT NULL" if has_null else f"{col} IS NULL"
            joiner = " AND " if has_null else " OR "
            return f"({null_part}{joiner}{base})"
        assert isinstance(cmp.value, Literal)
        if cmp.op == "LIKE":
            if f.type not in TEXT_TYPES or f.type == "id":
                raise _filter_error(f"invalid operator on {f.type} field: LIKE")
            params.append(cmp.value.value)
            return f"({col} LIKE ? ESCAPE '\\')"
        if cmp.value.kind == "date_literal" and f.type in ("date", "datetime"):
            return self.date_literal(cmp.op, col, self.date_range(f, cmp.value.value), params)
        value = self.value(f, cmp.value)
        if f.type == "boolean" and cmp.op not in ("=", "!="):
            raise _filter_error(f"invalid operator on boolean field: {cmp.op}")
        if value is None:
            if cmp.op not in ("=", "!="):
                raise _filter_error(f"invalid operator for null: {cmp.op}")
            return f"({col} IS {'NOT ' if cmp.op == '!=' else ''}NULL)"
        params.append(value)
        if cmp.op == "!=":
            return f"({col} IS NULL OR {col} != ?)"
        return f"({col} {cmp.op} ?)"

    @staticmethod
    def date_literal(op: str, col: str, bounds: tuple[str, str], params: list[Any]) -> str:
        start, end = bounds
        if op == "=":
            params.extend([start, end])
            return f"({col} >= ? AND {col} < ?)"
        if op == "!=":
            params.extend([start, end])
            return f"({col} IS NULL OR {col} < ? OR {col} >= ?)"
        params.append({"<": start, "<=": end, ">": end, ">=": start}[op])
        return f"({col} {'<' if op in ('<', '<=') else '>='} ?)"

    # --- whole query --------------------------------------------------------------------
    def compile(self, include_deleted: bool) -> CompiledQuery:
        q = self.query
        columns: list[SelectColumn] = []
        seen: set[str] = set()
        for ref in q.fields:
            steps, f, sql = self.resolve(ref)
            if sql not in seen:
                seen.add(sql)
                columns.append(SelectColumn(steps, f, sql))
        compiled = CompiledQuery(self.obj, q.count, columns)
        if q.where is not None:
            compiled.where.append(self.condition(q.where, compiled.params))
        if not include_deleted:
            compiled.where.append('t0."IsDeleted" = 0')
        for item in q.order_by:
            _, f, sql = self.resolve(item.field)
            direction = "DESC" if item.descending else "ASC"
            nulls_last = item.nulls_last if item.nulls_last is not None else item.descending
            compiled.order.append(f"{sql} {direction} NULLS {'LAST' if nulls_last else 'FIRST'}")
        if q.offset is not None and q.offset > MAX_OFFSET:
            raise SalesforceError(
                "NUMBER_OUTSIDE_VALID_RANGE", f"Maximum SOQL offset allowed is {MAX_OFFSET}"
            )
        compiled.limit, compiled.offset = q.limit, q.offset
        compiled.joins = list(self.join_sql)
        return compiled


def compile_query(
    schema: Schema, query: Query, soql: str, *, include_deleted: bool = False
) -> CompiledQuery:
    """Check names and types against the schema and build the SQL pieces."""
    return _Compiler(schema, query, soql).compile(include_deleted)
