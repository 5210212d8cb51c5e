"""Fault injection: by probability or by script ("the next N calls to paths matching X fail").

A rule (JSON, via `POST /_sandbox/faults`):

    {"kind": "UNABLE_TO_LOCK_ROW", "path": "composite/sobjects", "method": "PATCH",
     "times": 2, "probability": 1.0, "latency_ms": 0}

- `path`: a regular expression searched in the request path (default: every API path).
- `method`: optional HTTP method filter.
- `times`: fire on the next N matching calls, then retire (null = forever).
- `probability`: chance that a matching call is hit (default 1.0).
- `latency_ms`: delay added before answering (kind `latency` only delays).

Kinds: `500` (UNKNOWN_EXCEPTION), `503` (SERVER_UNAVAILABLE), `UNABLE_TO_LOCK_ROW` (writes only:
the whole call fails with 400), `UNABLE_TO_LOCK_ROW_RECORDS` (writes only: in sObject
Collections and convertLead, chosen records fail with statusCode UNABLE_TO_LOCK_ROW while the
rest succeed; choose by `record_indexes` or `record_rate`; on single-record writes the call
fails), `REQUEST_LIMIT_EXCEEDED` (403), `INVALID_SESSION_ID` (401 for this call),
`EXPIRE_SESSION` (really expires the caller's token, then 401), `latency`.
"""

from __future__ import annotations

import random
import re
from dataclasses import asdict, dataclass, field
from typing import Any

from sandbox.errors import SalesforceError

KINDS = frozenset(
    {
        "500", "503", "UNABLE_TO_LOCK_ROW", "UNABLE_TO_LOCK_ROW_RECORDS",
        "REQUEST_LIMIT_EXCEEDED", "INVALID_SESSION_ID", "EXPIRE_SESSION", "latency",
    }
)  # fmt: skip
WRITE_METHODS = frozenset({"POST", "PATCH", "PUT", "DELETE"})
WRITE_ONLY = frozenset({"UNABLE_TO_LOCK_ROW", "UNABLE_TO_LOCK_ROW_RECORDS"})


@dataclass
class FaultRule:
    id: int
    kind: str
    path: str = ""
    method: str | None = None
    times: int | None = None
    probability: float = 1.0
    latency_ms: int = 0
    record_indexes: list[int] | None = None
    record_rate: float = 1.0
    hits: int = 0
    _pattern: re.Pattern[str] | None = field(default=None, repr=False)

    def matches(self, method: str, path: str) -> bool:
        if self.times is not None and self.times <= 0:
            return False
        if self.method and self.method.upper() != method.upper():
            return False
        if self.kind in WRITE_ONLY and method.upper() not in WRITE_METHODS:
            return False
        if self._pattern is None:
            self._pattern = re.compile(self.path or "")
        return bool(self._pattern.search(path))

    def public(self) -> dict[str, Any]:
        data = asdict(self)
        data.pop("_pattern", None)
        return data


def fault_error(kind: str, path: str) -> SalesforceError:
    """The top-level error a fault answers with."""
    if kind == "500":
        return SalesforceError(
            "UNKNOWN_EXCEPTION",
            "An unexpected error occurred. Please include this ErrorId if you contact support: "
            "1234567890-12345 (-1234567890)",
            status=500,
        )
    if kind == "503":
        return SalesforceError("SERVER_UNAVAILABLE", "Server temporarily unavailable", status=503)
    if kind in WRITE_ONLY:
        return lock_error()
    if kind == "REQUEST_LIMIT_EXCEEDED":
        return SalesforceError(
            "REQUEST_LIMIT_EXCEEDED", "TotalRequests Limit exceeded.", status=403
        )
    return SalesforceError("INVALID_SESSION_ID", "Session expired or invalid", status=401)


def lock_error(record_id: str | None = None) -> SalesforceError:
    suffix = f": {record_id}" if record_id else ""
    return SalesforceError(
        "UNABLE_TO_LOCK_ROW",
        f"unable to obtain exclusive access to this record or 1 records{suffix}",
    )


class FaultInjector:
    def __init__(self, seed: int | None = None) -> None:
        self.rules: list[FaultRule] = []
        self.random = random.Random(seed)
        self._next_id = 1

    def add(self, spec: dict[str, Any]) -> FaultRule:
        kind = str(spec.get("kind", ""))
        if kind not in KINDS:
            raise ValueError(f"unknown fault kind {kind!r}; one of {sorted(KINDS)}")
        rule = FaultRule(
            id=self._next_id,
            kind=kind,
            path=str(spec.get("path") or ""),
            method=spec.get("method"),
            times=None if spec.get("times") is None else int(spec["times"]),
            probability=float(spec.get("probability", 1.0)),
            latency_ms=int(spec.get("latency_ms", 0)),
            record_indexes=spec.get("record_indexes"),
            record_rate=float(spec.get("record_rate", 1.0)),
        )
        re.compile(rule.path)
        self._next_id += 1
        self.rules.append(rule)
        return rule

    def clear(self) -> None:
        self.rules.clear()

    def fire(self, method: str, path: str) -> list[FaultRule]:
        """The rules hit by this call (their counters already advanced)."""
        fired: list[FaultRule] = []
        for rule in self.rules:
            if not rule.matches(method, path):
                continue
            if rule.probability < 1.0 and self.random.random() >= rule.probability:
                continue
            rule.hits += 1
            if rule.times is not None:
                rule.times -= 1
            fired.append(rule)
        return fired

    def record_fails(self, rule: FaultRule, index: int) -> bool:
        if rule.record_indexes is not None:
            return index in rule.record_indexes
        return self.random.random() < rule.record_rate
