"""Salesforce record ids: 15/18-character forms, the checksum suffix, and key prefixes.

An 18-character id is the 15-character, case-sensitive id plus three characters that encode
which of its letters are upper case, so it survives case-insensitive systems. We always hand
18-character ids onwards (that is what the API returns), and check every id before it gets
anywhere near a SOQL string.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from functools import lru_cache

from bridge.salesforce.errors import InvalidId

# Key prefixes of the standard objects the bridge touches.
KEY_PREFIXES: dict[str, str] = {
    "Account": "001",
    "Contact": "003",
    "Lead": "00Q",
    "Opportunity": "006",
    "User": "005",
}

_CHECKSUM_ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZ012345"
_ID15 = re.compile(r"[A-Za-z0-9]{15}")
_ID18 = re.compile(r"[A-Za-z0-9]{15}[A-Z0-5]{3}")


@lru_cache(maxsize=65_536)
def checksum(id15: str) -> str:
    """The three-character suffix for a 15-character id."""
    if not _ID15.fullmatch(id15):
        raise InvalidId(f"not a 15-character Salesforce id: {id15!r}")
    suffix = []
    for block in range(3):
        chunk = id15[block * 5 : block * 5 + 5]
        bits = sum(1 << i for i, char in enumerate(chunk) if "A" <= char <= "Z")
        suffix.append(_CHECKSUM_ALPHABET[bits])
    return "".join(suffix)


def to_18(record_id: str) -> str:
    """The 18-character form of a 15- or 18-character id (the latter's suffix is checked)."""
    if not isinstance(record_id, str):
        raise InvalidId(f"a Salesforce id must be a string, got {type(record_id).__name__}")
    if len(record_id) == 15:
        return record_id + checksum(record_id)
    if len(record_id) == 18 and _ID18.fullmatch(record_id):
        if checksum(record_id[:15]) != record_id[15:]:
            raise InvalidId(f"checksum suffix does not match: {record_id!r}")
        return record_id
    raise InvalidId(f"not a Salesforce id: {record_id!r}")


def key_prefix(sobject: str) -> str | None:
    """The known key prefix of an object, or None for objects we hold no prefix for."""
    return KEY_PREFIXES.get(sobject)


def normalize(record_id: str, sobject: str | None = None) -> str:
    """Validate an id (and its object, when the object's prefix is known); return 18 chars."""
    full = to_18(record_id)
    prefix = key_prefix(sobject) if sobject else None
    if prefix and not full.startswith(prefix):
        raise InvalidId(f"{record_id!r} is not a {sobject} id (expected prefix {prefix})")
    return full


def normalize_all(record_ids: Iterable[str], sobject: str | None = None) -> list[str]:
    """Validate many ids; 18-character forms in first-seen order, duplicates dropped."""
    seen: dict[str, None] = {}
    for record_id in record_ids:
        seen.setdefault(normalize(record_id, sobject), None)
    return list(seen)


def is_valid(record_id: object, sobject: str | None = None) -> bool:
    try:
        normalize(record_id, sobject)  # type: ignore[arg-type]
    except InvalidId:
        return False
    return True


def same_record(a: str, b: str) -> bool:
    """Compare ids regardless of 15/18-character form."""
    return to_18(a) == to_18(b)
