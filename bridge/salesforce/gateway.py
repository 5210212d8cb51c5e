"""`SalesforceGateway`: everything the bridge asks of Salesforce, in as few API calls as it allows.

Synchronous (Celery tasks call it directly); `bridge.salesforce.aio` wraps it for aiohttp.
Every request goes through `SalesforceConnection.call`, which owns refresh, retries, budget
and counting; this module only knows what to ask and how to read the answers.
"""

from __future__ import annotations

import functools
import threading
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import replace
from datetime import datetime
from typing import TYPE_CHECKING, Any, TypeVar, cast

import requests
import structlog
from simple_salesforce import Salesforce, format_soql

from bridge.salesforce import collections as sf_collections
from bridge.salesforce import convert as sf_convert
from bridge.salesforce import ids as sf_ids
from bridge.salesforce import soql
from bridge.salesforce.auth import token_source_from_settings
from bridge.salesforce.changes import ChangePage, Watermark, poll_changes
from bridge.salesforce.collections import RecordResult
from bridge.salesforce.connection import RetryPolicy, SalesforceConnection
from bridge.salesforce.convert import LeadConvert, LeadConvertResult
from bridge.salesforce.errors import (
    SalesforceError,
    UnknownFields,
    error_for,
)
from bridge.salesforce.session import SalesforceSession
from bridge.salesforce.usage import ApiUsage, LimitInfo, Quota

if TYPE_CHECKING:
    from config.settings import Settings

log = structlog.get_logger(__name__)
R = TypeVar("R")

DEFAULT_USER_FIELDS = ("Id", "Name", "Email", "Username", "IsActive")

# ChangePage/Watermark live in `changes`; re-exported because callers import them from here.
__all__ = ["DEFAULT_USER_FIELDS", "ChangePage", "SalesforceGateway", "Watermark"]


def _query_more(sf: Salesforce, url: str) -> dict[str, Any]:
    return cast(dict[str, Any], sf.query_more(url, identifier_is_url=True))


class SalesforceGateway:
    def __init__(
        self,
        connection: SalesforceConnection,
        *,
        in_chunk_size: int | None = None,
        convert_batch_size: int = sf_convert.DEFAULT_BATCH,
    ) -> None:
        if not 0 < convert_batch_size <= sf_convert.MAX_BATCH:
            raise ValueError(f"convert batches hold 1..{sf_convert.MAX_BATCH} leads")
        self.connection = connection
        self.in_chunk_size = in_chunk_size
        self.convert_batch_size = convert_batch_size
        self._describe_cache: dict[str, dict[str, Any]] = {}
        self._converted_statuses: list[str] | None = None
        self._cache_lock = threading.Lock()

    @classmethod
    def from_settings(
        cls,
        settings: Settings,
        *,
        session: requests.Session | None = None,
        pool_size: int = 10,
        in_chunk_size: int | None = None,
        convert_batch_size: int = sf_convert.DEFAULT_BATCH,
        **connection_options: Any,
    ) -> SalesforceGateway:
        """Build from `config.settings.Settings` (`sf_*` fields).

        `connection_options` go to `SalesforceConnection` (retry policy, cool-downs, sleep).
        """
        connection_options.setdefault("retry", RetryPolicy(max_retries=settings.sf_max_retries))
        connection = SalesforceConnection(
            token_source_from_settings(settings),
            api_version=settings.sf_api_version,
            session=session
            or SalesforceSession(
                timeout=settings.sf_timeout_seconds,
                ca_bundle=settings.sf_ca_bundle,
                pool_size=pool_size,
            ),
            budget_share=settings.sf_api_budget_share,
            **connection_options,
        )
        return cls(connection, in_chunk_size=in_chunk_size, convert_batch_size=convert_batch_size)

    # -- introspection ----------------------------------------------------------------------
    @property
    def usage(self) -> ApiUsage:
        return self.connection.usage

    @property
    def calls_by_operation(self) -> dict[str, int]:
        return self.connection.usage.calls_by_operation

    @property
    def org_id(self) -> str | None:
        return self.connection.token().org_id

    @property
    def integration_user_id(self) -> str | None:
        """Changes made by this user are the bridge's own write-backs (loop guard)."""
        return self.connection.token().user_id

    def close(self) -> None:
        self.connection.close()

    # -- queries ----------------------------------------------------------------------------
    def _pages(self, query: str, include_deleted: bool, operation: str) -> Iterator[dict[str, Any]]:
        """Response pages of one query, following `nextRecordsUrl`; one API call each."""
        call = self.connection.call
        page = call(operation, lambda sf: sf.query(query, include_deleted=include_deleted))
        while True:
            yield page
            if page.get("done", True) or not page.get("nextRecordsUrl"):
                return
            page = call(operation, functools.partial(_query_more, url=page["nextRecordsUrl"]))

    def query(self, query: str, include_deleted: bool = False) -> dict[str, Any]:
        """The first response page, as Salesforce sends it (totalSize, done, records...)."""
        return self.connection.call(
            "query", lambda sf: sf.query(query, include_deleted=include_deleted)
        )

    def query_all_iter(
        self, query: str, include_deleted: bool = False, *, operation: str = "query"
    ) -> Iterator[dict[str, Any]]:
        """Records of every page, fetched lazily."""
        for page in self._pages(query, include_deleted, operation):
            yield from page.get("records", ())

    def query_all(self, query: str, include_deleted: bool = False) -> list[dict[str, Any]]:
        return list(self.query_all_iter(query, include_deleted))

    def fetch(
        self, sobject: str, record_ids: Iterable[str], fields: Sequence[str]
    ) -> list[dict[str, Any]]:
        """Records by id: one query per chunk of validated ids, as many as the SOQL length
        guard admits (at most `in_chunk_size` when set).

        Ids that do not exist (or were deleted) are simply absent from the result.
        """
        records: list[dict[str, Any]] = []
        for query in soql.by_ids(sobject, fields, record_ids, chunk_size=self.in_chunk_size):
            records.extend(self.query_all_iter(query, operation="fetch"))
        return records

    def changed_since(
        self,
        sobject: str,
        fields: Sequence[str],
        watermark_ts: datetime | str | None,
        watermark_id: str | None = None,
        *,
        include_deleted: bool = True,
        page_size: int = soql.MAX_BATCH,
        min_page_size: int = 200,
        cursor_field: str = "SystemModstamp",
    ) -> Iterator[ChangePage]:
        """Changed records after the watermark, page by page (see `changes.poll_changes`)."""
        return poll_changes(
            lambda query, deleted: self.query_all_iter(query, deleted, operation="changed_since"),
            sobject,
            fields,
            watermark_ts,
            watermark_id,
            include_deleted=include_deleted,
            page_size=page_size,
            min_page_size=min_page_size,
            cursor_field=cursor_field,
        )

    # -- writes -----------------------------------------------------------------------------
    def _with_record_retries(
        self,
        operation: str,
        items: Sequence[Any],
        send: Callable[[Sequence[Any]], list[R]],
        is_lock: Callable[[R], bool],
    ) -> list[R]:
        """Send a batch; re-send only the records that failed on a row lock (bounded)."""
        results: list[R | None] = [None] * len(items)
        pending = list(range(len(items)))
        attempt = 0
        while pending:
            try:
                outcomes = send([items[i] for i in pending])
            except SalesforceError as exc:
                if attempt > 0:  # the first round's outcomes are known; locked ones failed
                    exc.completed = [r for r in results if r is not None]
                raise
            retry = []
            for index, outcome in zip(pending, outcomes, strict=True):
                results[index] = outcome
                if is_lock(outcome):
                    retry.append(index)
            if not retry or attempt >= self.connection.retry.max_retries:
                break
            self.connection.backoff(attempt, operation, f"{len(retry)} record(s) locked")
            attempt += 1
            pending = retry
        return [r for r in results if r is not None]

    def _collection(
        self,
        operation: str,
        items: Sequence[Any],
        request: Callable[[Salesforce, Sequence[Any]], Any],
        *,
        idempotent: bool,
    ) -> list[RecordResult]:
        results: list[RecordResult] = []
        for chunk in sf_collections.chunked(items, sf_collections.MAX_RECORDS):
            try:
                results.extend(self._collection_chunk(operation, chunk, request, idempotent))
            except SalesforceError as exc:
                exc.completed = results + exc.completed
                raise
        return results

    def _collection_chunk(
        self,
        operation: str,
        chunk: Sequence[Any],
        request: Callable[[Salesforce, Sequence[Any]], Any],
        idempotent: bool,
    ) -> list[RecordResult]:
        def send(batch: Sequence[Any]) -> list[RecordResult]:
            payload = self.connection.call(
                operation, lambda sf: request(sf, batch), idempotent=idempotent
            )
            return sf_collections.parse_results(payload, len(batch), operation)

        return self._with_record_retries(operation, chunk, send, lambda r: r.is_lock_failure)

    def create(self, sobject: str, records: Sequence[Mapping[str, Any]]) -> list[RecordResult]:
        """Create through sObject Collections, 200 per call; one result per input, in order."""
        sf_collections.create_body(sobject, records)  # validate everything before any call
        return self._collection(
            "create",
            records,
            lambda sf, batch: sf.restful(
                "composite/sobjects",
                method="POST",
                json=sf_collections.create_body(sobject, batch),
            ),
            idempotent=False,
        )

    def update(self, sobject: str, records: Sequence[Mapping[str, Any]]) -> list[RecordResult]:
        """Update (records carry `Id`) through sObject Collections, 200 per call."""
        sf_collections.update_body(sobject, records)
        return self._collection(
            "update",
            records,
            lambda sf, batch: sf.restful(
                "composite/sobjects",
                method="PATCH",
                json=sf_collections.update_body(sobject, batch),
            ),
            idempotent=True,
        )

    def delete(self, record_ids: Sequence[str]) -> list[RecordResult]:
        """Delete by id (any object) through sObject Collections, 200 per call."""
        valid = [sf_ids.normalize(i) for i in record_ids]
        return self._collection(
            "delete",
            valid,
            lambda sf, batch: sf.restful(
                "composite/sobjects",
                method="DELETE",
                params=sf_collections.delete_params(batch),
            ),
            idempotent=True,
        )

    # -- lead conversion --------------------------------------------------------------------
    def convert_leads(self, converts: Sequence[LeadConvert]) -> list[LeadConvertResult]:
        """SOAP convertLead in batches of `convert_batch_size`; one result per input, in order.

        A missing `converted_status` is filled with the org's converted status.
        """
        if any(c.converted_status is None for c in converts):
            status = self.converted_status()
            converts = [
                c if c.converted_status else replace(c, converted_status=status) for c in converts
            ]
        for convert in converts:
            convert.elements()  # validate ids and order before any call
        results: list[LeadConvertResult] = []
        for batch in sf_collections.chunked(converts, self.convert_batch_size):
            try:
                results.extend(
                    self._with_record_retries(
                        "convert_leads", batch, self._convert_once, lambda r: r.is_lock_failure
                    )
                )
            except SalesforceError as exc:
                exc.completed = results + exc.completed
                raise
        return results

    def _convert_once(self, batch: Sequence[LeadConvert]) -> list[LeadConvertResult]:
        def post(sf: Salesforce) -> list[LeadConvertResult]:
            url = f"https://{sf.sf_instance}/services/Soap/u/{sf.sf_version}"
            response = sf.session.post(
                url,
                data=sf_convert.build_envelope(sf.session_id, batch),
                headers={"Content-Type": "text/xml; charset=UTF-8", "SOAPAction": '""'},
            )
            quota = sf_convert.parse_limit_info(response.content)
            if quota is not None:
                self.usage.observe(LimitInfo(api_usage=quota))
            if response.status_code != 200:
                fault = sf_convert.parse_fault(response.content, response.status_code)
                raise fault or error_for(
                    response.status_code,
                    None,
                    f"convertLead failed with HTTP {response.status_code}",
                    operation="convert_leads",
                )
            return sf_convert.parse_response(response.content, len(batch))

        return self.connection.call("convert_leads", post, idempotent=False)

    # -- metadata ---------------------------------------------------------------------------
    def describe(self, sobject: str, *, refresh: bool = False) -> dict[str, Any]:
        """`/sobjects/{sobject}/describe`, cached for the gateway's lifetime."""
        name = soql.sobject_name(sobject)
        with self._cache_lock:
            cached = None if refresh else self._describe_cache.get(name)
        if cached is not None:
            return cached
        result: dict[str, Any] = self.connection.call(
            "describe", lambda sf: getattr(sf, name).describe()
        )
        with self._cache_lock:
            self._describe_cache[name] = result
        return result

    def unknown_fields(self, sobject: str, names: Iterable[str]) -> list[str]:
        """Configured names the org does not know; parent paths (`Account.Name`) followed."""
        return [name for name in names if not self._has_field(sobject, name.split("."))]

    def validate_fields(self, sobject: str, names: Iterable[str]) -> None:
        """Start-up check: raise `UnknownFields` listing every unknown name at once."""
        missing = self.unknown_fields(sobject, names)
        if missing:
            raise UnknownFields(sobject, missing)

    def _has_field(self, sobject: str, path: list[str]) -> bool:
        fields = self.describe(sobject).get("fields", [])
        head = path[0].lower()
        if len(path) == 1:
            return any(str(f.get("name", "")).lower() == head for f in fields)
        for field in fields:
            if str(field.get("relationshipName") or "").lower() != head:
                continue
            for target in field.get("referenceTo") or ():
                try:
                    if self._has_field(target, path[1:]):
                        return True
                except SalesforceError as exc:
                    # A polymorphic target we may not describe (e.g. Group): try the others.
                    log.info(
                        "salesforce.describe_skipped", sobject=target, error_code=exc.error_code
                    )
        return False

    def active_users(self, fields: Sequence[str] = DEFAULT_USER_FIELDS) -> list[dict[str, Any]]:
        query = soql.select("User", fields) + format_soql(
            " WHERE IsActive = {active} ORDER BY Id", active=True
        )
        return list(self.query_all_iter(query, operation="active_users"))

    def converted_statuses(self, *, refresh: bool = False) -> list[str]:
        """Lead statuses that mean "converted"; convertLead accepts only these."""
        with self._cache_lock:
            cached = None if refresh else self._converted_statuses
        if cached is not None:
            return list(cached)
        query = soql.select("LeadStatus", ["ApiName"]) + format_soql(
            " WHERE IsConverted = {converted}", converted=True
        )
        statuses = [
            str(r["ApiName"])
            for r in self.query_all_iter(query, operation="converted_status")
            if r.get("ApiName")
        ]
        with self._cache_lock:
            self._converted_statuses = statuses
        return list(statuses)

    def converted_status(self) -> str:
        statuses = self.converted_statuses()
        if not statuses:
            raise SalesforceError(
                "the org has no converted lead status", operation="converted_status"
            )
        return statuses[0]

    def limits(self) -> dict[str, Any]:
        """`/limits` (DailyApiRequests and friends). Costs one API call."""
        return cast(dict[str, Any], self.connection.call("limits", lambda sf: sf.limits()))

    def refresh_budget(self) -> float | None:
        """Ask Salesforce again whether calls may resume; returns the share of the limit used.

        A stop (budget share reached, or REQUEST_LIMIT_EXCEEDED) otherwise holds until its
        reading is five minutes old. Call this after an operator raised the org's limit, or
        from a readiness probe. It costs one API call, made even while stopped.
        """
        self.usage.forget_limits()
        daily = self.limits().get("DailyApiRequests") or {}
        total, remaining = daily.get("Max"), daily.get("Remaining")
        if isinstance(total, int) and isinstance(remaining, int) and total > 0:
            self.usage.observe(LimitInfo(api_usage=Quota(total - remaining, total)))
        return self.usage.share_used()
