"""Our own API call counts, and the org's usage as Salesforce reports it.

Every HTTP response from Salesforce may carry `Sforce-Limit-Info`, e.g.
`api-usage=18/5000; api-bursts=1/750; per-app-api-usage=17/250(appName=bridge)`.
It is the only free view of the daily budget, so we read it from every response (errors
included) and decide from it whether to keep calling.
"""

from __future__ import annotations

import re
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

_PAIR = re.compile(
    r"(?P<key>[A-Za-z][A-Za-z0-9_-]*)\s*=\s*(?P<used>\d+)\s*/\s*(?P<total>\d+)"
    r"(?:\s*\((?P<extra>[^)]*)\))?"
)


@dataclass(frozen=True)
class Quota:
    used: int
    total: int

    @property
    def share(self) -> float:
        return self.used / self.total if self.total > 0 else 1.0


@dataclass(frozen=True)
class LimitInfo:
    """One parsed `Sforce-Limit-Info` header; absent parts stay None/empty."""

    api_usage: Quota | None = None
    api_bursts: Quota | None = None
    per_app: dict[str, Quota] = field(default_factory=dict)


def parse_limit_info(header: str | None) -> LimitInfo | None:
    """Parse tolerantly: unknown parts, odd spacing, `;` or `,` separators are all fine.

    Returns None when the header carries nothing we understand.
    """
    if not header:
        return None
    api_usage: Quota | None = None
    api_bursts: Quota | None = None
    per_app: dict[str, Quota] = {}
    for match in _PAIR.finditer(header):
        key = match["key"].lower()
        quota = Quota(int(match["used"]), int(match["total"]))
        if key == "api-usage":
            api_usage = quota
        elif key == "api-bursts":
            api_bursts = quota
        elif key == "per-app-api-usage":
            extra = match["extra"] or ""
            name = extra.split("=", 1)[1].strip() if "=" in extra else extra.strip()
            per_app[name or "?"] = quota
    if api_usage is None and api_bursts is None and not per_app:
        return None
    return LimitInfo(api_usage=api_usage, api_bursts=api_bursts, per_app=per_app)


class ApiUsage:
    """Thread-safe counters shared by every thread using one gateway."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._lock = threading.Lock()
        self._calls: Counter[str] = Counter()
        self._auth_requests = 0
        self._limit_info: LimitInfo | None = None
        self._observed_at: float | None = None
        self._limit_exceeded_at: float | None = None

    # -- recording -------------------------------------------------------------------------
    def record_call(self, operation: str) -> None:
        with self._lock:
            self._calls[operation] += 1

    def record_auth_request(self) -> None:
        # Token requests do not count against the org's API limit; kept apart so
        # "API calls per record" stays honest.
        with self._lock:
            self._auth_requests += 1

    def observe_header(self, header: str | None) -> None:
        info = parse_limit_info(header)
        if info is not None:
            self.observe(info)

    def observe(self, info: LimitInfo) -> None:
        with self._lock:
            previous = self._limit_info
            if info.api_usage is None and previous is not None:
                info = LimitInfo(previous.api_usage, info.api_bursts, info.per_app)
            self._limit_info = info
            self._observed_at = self._clock()

    def mark_limit_exceeded(self) -> None:
        with self._lock:
            self._limit_exceeded_at = self._clock()

    def forget_limits(self) -> None:
        """Drop the usage reading and the REQUEST_LIMIT_EXCEEDED mark; keep our counts."""
        with self._lock:
            self._limit_info = None
            self._observed_at = None
            self._limit_exceeded_at = None

    def reset(self) -> None:
        """Forget counts and observations (tests, or after an operator raised the limit)."""
        with self._lock:
            self._calls.clear()
            self._auth_requests = 0
            self._limit_info = None
            self._observed_at = None
            self._limit_exceeded_at = None

    # -- reading ---------------------------------------------------------------------------
    @property
    def calls_by_operation(self) -> dict[str, int]:
        with self._lock:
            return dict(self._calls)

    @property
    def total_calls(self) -> int:
        with self._lock:
            return sum(self._calls.values())

    @property
    def auth_requests(self) -> int:
        with self._lock:
            return self._auth_requests

    @property
    def limit_info(self) -> LimitInfo | None:
        with self._lock:
            return self._limit_info

    def share_used(self, max_age: float | None = None) -> float | None:
        """Share of the daily limit used, from the latest header no older than `max_age`."""
        with self._lock:
            info, at = self._limit_info, self._observed_at
        if info is None or info.api_usage is None or at is None:
            return None
        if max_age is not None and self._clock() - at > max_age:
            return None
        return info.api_usage.share

    def limit_exceeded_recently(self, within: float) -> bool:
        with self._lock:
            at = self._limit_exceeded_at
        return at is not None and self._clock() - at < within

    def snapshot(self) -> dict[str, Any]:
        """Plain data for readiness checks and metrics."""
        with self._lock:
            info = self._limit_info
            calls = dict(self._calls)
            auth = self._auth_requests
            exceeded = self._limit_exceeded_at is not None
        out: dict[str, Any] = {
            "calls_by_operation": calls,
            "total_calls": sum(calls.values()),
            "auth_requests": auth,
            "limit_exceeded_seen": exceeded,
            "api_used": None,
            "api_limit": None,
            "api_share_used": None,
            "api_bursts": None,
            "per_app": {},
        }
        if info is not None:
            if info.api_usage is not None:
                out["api_used"] = info.api_usage.used
                out["api_limit"] = info.api_usage.total
                out["api_share_used"] = round(info.api_usage.share, 6)
            if info.api_bursts is not None:
                out["api_bursts"] = {"used": info.api_bursts.used, "total": info.api_bursts.total}
            out["per_app"] = {
                k: {"used": q.used, "total": q.total} for k, q in info.per_app.items()
            }
        return out
