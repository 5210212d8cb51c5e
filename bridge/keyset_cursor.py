"""Page cursors for keyset paging (route-log exports, the form audit): an opaque, signed
position bound to the filters it came from.

A cursor names the last row a page returned, as (timestamp, id): the next page starts strictly
past it (after or before it, by the listing's order), so rows written meanwhile neither shift
nor repeat pages the way OFFSET would. It is signed (itsdangerous, HMAC-SHA1 with the bridge's
secret key) so a caller cannot forge a position, and it carries a fingerprint of the tenant and
filters so it cannot be replayed with other filters or by another tenant.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime

from itsdangerous import BadSignature, URLSafeSerializer


class InvalidCursor(ValueError):
    pass


@dataclass(frozen=True, slots=True, order=True)
class Position:
    """A row's place in listing order."""

    timestamp: datetime
    id: int


def fingerprint(*parts: object) -> str:
    return hashlib.sha256(repr(parts).encode()).hexdigest()[:16]


class CursorSigner:
    """`salt` keeps one listing's cursors from being accepted by another; `filter_names` is
    what the error says a cursor is bound to."""

    def __init__(self, secret: bytes, *, salt: str, filter_names: str) -> None:
        self._serializer = URLSafeSerializer(secret, salt=salt)
        self._filter_names = filter_names

    def dump(self, position: Position, filters: str) -> str:
        return str(self._serializer.dumps([position.timestamp.isoformat(), position.id, filters]))

    def load(self, cursor: str, filters: str) -> Position:
        try:
            stamp, row_id, bound_to = self._serializer.loads(cursor)
            position = Position(datetime.fromisoformat(stamp), int(row_id))
        except BadSignature:
            raise InvalidCursor("cursor is not one this service issued") from None
        except (TypeError, ValueError):
            raise InvalidCursor("cursor is malformed") from None
        if bound_to != filters:
            raise InvalidCursor(f"cursor belongs to other filters ({self._filter_names})")
        if position.timestamp.tzinfo is None:
            raise InvalidCursor("cursor is malformed")
        return position
