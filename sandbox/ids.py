"""Salesforce record ids: key prefixes, the 18-character case-safe suffix, 15 -> 18 conversion."""

from __future__ import annotations

import re

BASE62 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
_SUFFIX_ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZ012345"
_ID_RE = re.compile(r"^[a-zA-Z0-9]{15}(?:[A-Za-z0-5]{3})?$")
POD = "8d"  # the two "instance" characters after the key prefix
_COUNTER_WIDTH = 10


def checksum(id15: str) -> str:
    """The three-character suffix that makes a 15-character id case-insensitively unique."""
    suffix = ""
    for chunk in range(3):
        bits = 0
        for position in range(5):
            char = id15[chunk * 5 + position]
            if "A" <= char <= "Z":
                bits |= 1 << position
        suffix += _SUFFIX_ALPHABET[bits]
    return suffix


def make_id(prefix: str, counter: int) -> str:
    """An 18-character id for the `counter`-th record of the object with this key prefix."""
    body = ""
    value = counter
    for _ in range(_COUNTER_WIDTH):
        value, digit = divmod(value, 62)
        body = BASE62[digit] + body
    id15 = f"{prefix}{POD}{body}"
    return id15 + checksum(id15)


def normalize_id(value: str) -> str | None:
    """The canonical 18-character form of a 15- or 18-character id, or None if it is not one.

    An 18-character id's suffix restores the case of the first 15 characters, as Salesforce does.
    """
    if not isinstance(value, str) or not _ID_RE.match(value):
        return None
    if len(value) == 18:
        suffix = value[15:].upper()
        chars = list(value[:15])
        for chunk in range(3):
            bits = _SUFFIX_ALPHABET.find(suffix[chunk])
            if bits < 0:
                return None
            for position in range(5):
                index = chunk * 5 + position
                if chars[index].isalpha():
                    upper = bool(bits & (1 << position))
                    chars[index] = chars[index].upper() if upper else chars[index].lower()
        id15 = "".join(chars)
        return id15 + checksum(id15)
    return value + checksum(value)


def key_prefix(value: str) -> str:
    return value[:3]
