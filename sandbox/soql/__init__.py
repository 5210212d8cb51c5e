"""A subset of SOQL: parsed with a Lark grammar, compiled to SQLite, paged like Salesforce."""

from sandbox.soql.ast import Query
from sandbox.soql.parser import parse_soql

__all__ = ["Query", "parse_soql"]
