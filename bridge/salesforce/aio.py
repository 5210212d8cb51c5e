"""The gateway for asyncio code (aiohttp handlers): same calls, run in a bounded thread pool.

simple-salesforce and requests block, so each call runs on one of `max_workers` threads while
the event loop keeps serving. The pool bounds how many requests the web process has in flight
towards Salesforce at once. The structlog context (request id) is carried into the thread.
"""

from __future__ import annotations

import asyncio
import contextvars
import functools
from collections.abc import AsyncIterator, Callable, Iterable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime
from typing import Any, TypeVar

from bridge.salesforce.changes import ChangePage
from bridge.salesforce.collections import RecordResult
from bridge.salesforce.convert import LeadConvert, LeadConvertResult
from bridge.salesforce.gateway import DEFAULT_USER_FIELDS, SalesforceGateway
from bridge.salesforce.usage import ApiUsage

T = TypeVar("T")
_DONE = object()


class AsyncSalesforceGateway:
    def __init__(self, gateway: SalesforceGateway, *, max_workers: int = 8) -> None:
        self.gateway = gateway
        self._pool = ThreadPoolExecutor(max_workers=max_workers, thread_name_prefix="salesforce")

    async def _run(self, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        loop = asyncio.get_running_loop()
        context = contextvars.copy_context()
        return await loop.run_in_executor(
            self._pool, functools.partial(context.run, fn, *args, **kwargs)
        )

    @property
    def usage(self) -> ApiUsage:
        return self.gateway.usage

    @property
    def calls_by_operation(self) -> dict[str, int]:
        return self.gateway.calls_by_operation

    async def fetch(
        self, sobject: str, record_ids: Iterable[str], fields: Sequence[str]
    ) -> list[dict[str, Any]]:
        return await self._run(self.gateway.fetch, sobject, list(record_ids), fields)

    async def query(self, query: str, include_deleted: bool = False) -> dict[str, Any]:
        return await self._run(self.gateway.query, query, include_deleted)

    async def query_all(self, query: str, include_deleted: bool = False) -> list[dict[str, Any]]:
        return await self._run(self.gateway.query_all, query, include_deleted)

    async def changed_since(
        self,
        sobject: str,
        fields: Sequence[str],
        watermark_ts: datetime | str | None,
        watermark_id: str | None = None,
        **options: Any,
    ) -> AsyncIterator[ChangePage]:
        """Pages as they arrive; each page's queries run in the pool."""
        pages = self.gateway.changed_since(sobject, fields, watermark_ts, watermark_id, **options)
        while True:
            page = await self._run(next, pages, _DONE)
            if page is _DONE:
                return
            yield page

    async def create(
        self, sobject: str, records: Sequence[Mapping[str, Any]]
    ) -> list[RecordResult]:
        return await self._run(self.gateway.create, sobject, records)

    async def update(
        self, sobject: str, records: Sequence[Mapping[str, Any]]
    ) -> list[RecordResult]:
        return await self._run(self.gateway.update, sobject, records)

    async def delete(self, record_ids: Sequence[str]) -> list[RecordResult]:
        return await self._run(self.gateway.delete, record_ids)

    async def convert_leads(self, converts: Sequence[LeadConvert]) -> list[LeadConvertResult]:
        return await self._run(self.gateway.convert_leads, converts)

    async def describe(self, sobject: str, *, refresh: bool = False) -> dict[str, Any]:
        return await self._run(self.gateway.describe, sobject, refresh=refresh)

    async def validate_fields(self, sobject: str, names: Iterable[str]) -> None:
        await self._run(self.gateway.validate_fields, sobject, list(names))

    async def active_users(
        self, fields: Sequence[str] = DEFAULT_USER_FIELDS
    ) -> list[dict[str, Any]]:
        return await self._run(self.gateway.active_users, fields)

    async def converted_status(self) -> str:
        return await self._run(self.gateway.converted_status)

    async def limits(self) -> dict[str, Any]:
        return await self._run(self.gateway.limits)

    async def refresh_budget(self) -> float | None:
        return await self._run(self.gateway.refresh_budget)

    async def close(self) -> None:
        """Wait for in-flight calls (off the loop), then close the HTTP session."""
        await asyncio.get_running_loop().run_in_executor(
            None, functools.partial(self._pool.shutdown, wait=True)
        )
        self.gateway.close()
