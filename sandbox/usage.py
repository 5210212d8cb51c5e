"""The org's daily API request budget: counted per UTC day in SQLite, hard stop at the limit."""

from __future__ import annotations

from datetime import UTC, datetime

from sandbox.errors import limit_exceeded
from sandbox.store import Database

DEFAULT_DAILY_LIMIT = 15000


class ApiUsage:
    def __init__(self, db: Database, limit: int = DEFAULT_DAILY_LIMIT) -> None:
        self.db = db
        self.limit = limit

    @staticmethod
    def _day() -> str:
        return datetime.now(UTC).date().isoformat()

    @property
    def used(self) -> int:
        row = self.db.conn.execute(
            "SELECT used FROM _api_usage WHERE day = ?", (self._day(),)
        ).fetchone()
        return 0 if row is None else int(row[0])

    def set_used(self, used: int) -> None:
        with self.db.transaction() as conn:
            conn.execute(
                "INSERT INTO _api_usage(day, used) VALUES (?, ?) "
                "ON CONFLICT(day) DO UPDATE SET used = excluded.used",
                (self._day(), used),
            )

    def consume(self) -> int:
        """Count one API request, or raise REQUEST_LIMIT_EXCEEDED (403) when the budget is spent."""
        used = self.used
        if used >= self.limit:
            raise limit_exceeded()
        self.set_used(used + 1)
        return used + 1

    def header(self) -> str:
        """The `Sforce-Limit-Info` header value."""
        return f"api-usage={self.used}/{self.limit}"

    def limits(self) -> dict[str, dict[str, int]]:
        """The `/limits` resource (DailyApiRequests is real; the rest are plausible constants)."""
        remaining = max(0, self.limit - self.used)
        return {
            "ConcurrentAsyncGetReportInstances": {"Max": 200, "Remaining": 200},
            "DailyApiRequests": {"Max": self.limit, "Remaining": remaining},
            "DailyAsyncApexExecutions": {"Max": 250000, "Remaining": 250000},
            "DailyBulkApiBatches": {"Max": 15000, "Remaining": 15000},
            "DailyBulkV2QueryJobs": {"Max": 10000, "Remaining": 10000},
            "DataStorageMB": {"Max": 1024, "Remaining": 1000},
            "SingleEmail": {"Max": 5000, "Remaining": 5000},
        }
