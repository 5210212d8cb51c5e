"""SOQL text -> `Query`, through the Lark grammar in `grammar.py` (LALR)."""

from __future__ import annotations

from functools import lru_cache
from typing import Any

from lark import Lark, Token, Transformer, UnexpectedCharacters, UnexpectedEOF, UnexpectedInput
from lark.exceptions import VisitError

from sandbox.errors import SalesforceError
from sandbox.soql.ast import BoolOp, Comparison, Condition, FieldRef, Literal, Not, OrderItem, Query
from sandbox.soql.grammar import GRAMMAR

_ESCAPES = {"n": "\n", "r": "\r", "t": "\t", "b": "\b", "f": "\f", '"': '"', "'": "'", "\\": "\\"}


def malformed(message: str) -> SalesforceError:
    return SalesforceError("MALFORMED_QUERY", message)


def unescape(raw: str, *, like: bool = False) -> str:
    """Decode a quoted SOQL string. For LIKE, return a SQLite pattern with `\\` as escape."""
    body = raw[1:-1]
    out: list[str] = []
    i = 0
    while i < len(body):
        char = body[i]
        if char == "\\":
            if i + 1 >= len(body):
                raise malformed("Invalid string literal: trailing backslash")
            nxt = body[i + 1]
            i += 2
            if nxt in "%_":
                out.append("\\" + nxt if like else nxt)
            elif nxt in _ESCAPES:
                decoded = _ESCAPES[nxt]
                out.append("\\\\" if like and decoded == "\\" else decoded)
            else:
                raise malformed(
                    f"Invalid string literal '{raw}'. Illegal character sequence '\\{nxt}'"
                )
            continue
        out.append(char)
        i += 1
    return "".join(out)


class _ToAst(Transformer[Token, Any]):
    def start(self, items: list[Any]) -> Query:
        fields, sobject, *clauses = items
        parts: dict[str, Any] = {}
        for kind, value in clauses:
            parts[kind] = value
        count = fields == "COUNT"
        return Query(
            sobject=str(sobject),
            fields=() if count else tuple(fields),
            count=count,
            where=parts.get("where"),
            order_by=tuple(parts.get("order", ())),
            limit=parts.get("limit"),
            offset=parts.get("offset"),
        )

    def select_list(self, items: list[Any]) -> Any:
        return items[0] if items and items[0] == "COUNT" else items

    def count_expr(self, _items: list[Any]) -> str:
        return "COUNT"

    def field(self, items: list[Token]) -> FieldRef:
        return FieldRef(tuple(str(t) for t in items))

    def where_clause(self, items: list[Any]) -> tuple[str, Condition]:
        return ("where", items[0])

    def and_cond(self, items: list[Condition]) -> BoolOp:
        return BoolOp("AND", tuple(items))

    def or_cond(self, items: list[Condition]) -> BoolOp:
        return BoolOp("OR", tuple(items))

    def not_cond(self, items: list[Condition]) -> Not:
        return Not(items[0])

    def compare(self, items: list[Any]) -> Comparison:
        field, op, value = items
        op = "!=" if str(op) == "<>" else str(op)
        return Comparison(field, op, value)

    def like(self, items: list[Any]) -> Comparison:
        field, raw = items
        return Comparison(field, "LIKE", Literal("like", unescape(str(raw), like=True)))

    def in_list(self, items: list[Any]) -> Comparison:
        return Comparison(items[0], "IN", tuple(items[1]))

    def not_in_list(self, items: list[Any]) -> Comparison:
        return Comparison(items[0], "NOT IN", tuple(items[1]))

    def value_list(self, items: list[Literal]) -> list[Literal]:
        return items

    def string(self, items: list[Token]) -> Literal:
        return Literal("string", unescape(str(items[0])))

    def number(self, items: list[Token]) -> Literal:
        text = str(items[0])
        return Literal("number", float(text) if "." in text else int(text))

    def datetime(self, items: list[Token]) -> Literal:
        return Literal("datetime", str(items[0]))

    def date(self, items: list[Token]) -> Literal:
        return Literal("date", str(items[0]))

    def date_literal(self, items: list[Token]) -> Literal:
        return Literal("date_literal", str(items[0]).upper())

    def null(self, _items: list[Any]) -> Literal:
        return Literal("null", None)

    def true(self, _items: list[Any]) -> Literal:
        return Literal("boolean", True)

    def false(self, _items: list[Any]) -> Literal:
        return Literal("boolean", False)

    def order_clause(self, items: list[OrderItem]) -> tuple[str, list[OrderItem]]:
        return ("order", items)

    def order_item(self, items: list[Any]) -> OrderItem:
        field, *modifiers = items
        descending = "desc" in modifiers
        nulls_last = None
        if "nulls_last" in modifiers:
            nulls_last = True
        elif "nulls_first" in modifiers:
            nulls_last = False
        return OrderItem(field, descending, nulls_last)

    def asc(self, _items: list[Any]) -> str:
        return "asc"

    def desc(self, _items: list[Any]) -> str:
        return "desc"

    def nulls_first(self, _items: list[Any]) -> str:
        return "nulls_first"

    def nulls_last(self, _items: list[Any]) -> str:
        return "nulls_last"

    def limit_clause(self, items: list[Token]) -> tuple[str, int]:
        return ("limit", int(items[0]))

    def offset_clause(self, items: list[Token]) -> tuple[str, int]:
        return ("offset", int(items[0]))


@lru_cache(maxsize=1)
def _parser() -> Lark:
    return Lark(GRAMMAR, parser="lalr", lexer="contextual", maybe_placeholders=False)


def _location(soql: str, error: UnexpectedInput) -> str:
    line = getattr(error, "line", 1) or 1
    column = getattr(error, "column", 1) or 1
    return f"ERROR at Row:{line}:Column:{column}"


def parse_soql(soql: str) -> Query:
    """Parse SOQL or raise `SalesforceError(MALFORMED_QUERY)` with a Salesforce-like message."""
    try:
        tree = _parser().parse(soql)
        return _ToAst().transform(tree)  # type: ignore[no-any-return]
    except UnexpectedEOF as error:
        raise malformed(f"\n{soql}\n{_location(soql, error)}\nunexpected end of query") from None
    except UnexpectedCharacters as error:
        raise malformed(
            f"\n{soql}\n{_location(soql, error)}\nunexpected token: '{soql[error.pos_in_stream]}'"
        ) from None
    except UnexpectedInput as error:
        token = getattr(error, "token", None)
        shown = "end of query" if token is None or token.type == "$END" else f"'{token}'"
        raise malformed(f"\n{soql}\n{_location(soql, error)}\nunexpected token: {shown}") from None
    except VisitError as error:
        if isinstance(error.orig_exc, SalesforceError):
            raise error.orig_exc from None
        raise
