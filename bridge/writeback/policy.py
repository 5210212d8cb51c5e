"""Field mapping policies: fill only when empty (default), always overwrite, or never."""

from __future__ import annotations

import math
from dataclasses import dataclass
from enum import StrEnum
from typing import Any


class Policy(StrEnum):
    FILL = "fill"
    OVERWRITE = "overwrite"
    NEVER = "never"


@dataclass(frozen=True)
class FieldMapping:
    """Where an enriched field goes in Salesforce, and when it may be written."""

    name: str  # the enriched field (e.g. "phone")
    field: str  # the Salesforce field (e.g. "Phone")
    policy: Policy = Policy.FILL


def is_empty(value: Any) -> bool:
    return value is None or (isinstance(value, str) and not value.strip())


def same_value(current: Any, proposed: Any) -> bool:
    """Would writing `proposed` leave the field as it is? (Salesforce reads "" as null.)"""
    if is_empty(current) and is_empty(proposed):
        return True
    if isinstance(current, bool) or isinstance(proposed, bool):
        return current is proposed or str(current).lower() == str(proposed).lower()
    if isinstance(current, int | float) and isinstance(proposed, int | float):
        return math.isclose(float(current), float(proposed), rel_tol=1e-12, abs_tol=1e-9)
    return current == proposed


def should_write(mapping: FieldMapping, current: Any, proposed: Any) -> bool:
    if mapping.policy is Policy.NEVER or is_empty(proposed):
        return False
    if mapping.policy is Policy.FILL and not is_empty(current):
        return False
    return not same_value(current, proposed)
