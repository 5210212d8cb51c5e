"""One signed-in simple-salesforce client, and the rules every call to it follows.

`SalesforceConnection.call(operation, fn)` is the only way a request leaves the bridge:
- before calling: stop if Salesforce recently said REQUEST_LIMIT_EXCEEDED, or if the last
  `Sforce-Limit-Info` shows the configured share of the daily limit used (`BudgetExhausted`);
- INVALID_SESSION_ID: fetch a new token once and retry once, then raise `SessionExpired`;
- UNABLE_TO_LOCK_ROW (also hidden in flow/trigger errors) and 5xx: bounded retries with
  exponential backoff and jitter, then `TransientError`;
- REQUEST_LIMIT_EXCEEDED: raise at once and refuse further calls for a cool-down.
Every request sent is counted per operation (retries and paging included), and every
response's `Sforce-Limit-Info` is read by a hook on the shared `requests.Session`, error
responses included.
"""

from __future__ import annotations

import random
import threading
import time
from collections.abc import Callable
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any, TypeVar

import requests
import structlog
from simple_salesforce import Salesforce
from simple_salesforce.exceptions import SalesforceError as SimpleSalesforceError

from bridge.salesforce.auth import AccessToken, TokenSource
from bridge.salesforce.errors import (
    BudgetExhausted,
    RequestLimitExceeded,
    SalesforceError,
    SessionExpired,
    TransientError,
    from_rest_failure,
)
from bridge.salesforce.session import SalesforceSession
from bridge.salesforce.usage import ApiUsage

log = structlog.get_logger(__name__)
T = TypeVar("T")

AUTH_OPERATION = "auth"
# The operation the current thread is calling for; read by the response hook to count calls.
_operation: ContextVar[str] = ContextVar("salesforce_operation", default="other")


@dataclass(frozen=True)
class RetryPolicy:
    """Bounded exponential backoff with jitter, so that competing workers spread out."""

    max_retries: int = 4
    base_delay: float = 0.5
    max_delay: float = 8.0

    def delay(self, attempt: int) -> float:
        ceiling = min(self.max_delay, self.base_delay * 2.0**attempt)
        return ceiling / 2 + random.uniform(0, ceiling / 2)  # "equal jitter"


class SalesforceConnection:
    def __init__(
        self,
        token_source: TokenSource,
        *,
        api_version: str = "60.0",
        session: requests.Session | None = None,
        retry: RetryPolicy | None = None,
        budget_share: float = 0.8,
        usage: ApiUsage | None = None,
        limit_cooldown_seconds: float = 300.0,
        usage_max_age_seconds: float = 300.0,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.token_source = token_source
        self.api_version = api_version.removeprefix("v")
        self.session = session if session is not None else SalesforceSession()
        self.retry = retry or RetryPolicy()
        self.budget_share = budget_share
        self.usage = usage or ApiUsage()
        # How long REQUEST_LIMIT_EXCEEDED keeps us quiet, and how long a usage reading counts:
        # after that one call may go through to learn whether the rolling 24 h window moved.
        self.limit_cooldown_seconds = limit_cooldown_seconds
        self.usage_max_age_seconds = usage_max_age_seconds
        self._sleep = sleep
        self._lock = threading.Lock()
        self._client: Salesforce | None = None
        self._token: AccessToken | None = None
        self.session.hooks.setdefault("response", []).append(self._on_response)

    # -- counting ---------------------------------------------------------------------------
    def _on_response(self, response: requests.Response, *args: Any, **kwargs: Any) -> None:
        if _operation.get() == AUTH_OPERATION:
            self.usage.record_auth_request()
        self.usage.observe_header(response.headers.get("Sforce-Limit-Info"))

    # -- signing in -------------------------------------------------------------------------
    def _login(self) -> Salesforce:
        marker = _operation.set(AUTH_OPERATION)
        try:
            token = self.token_source.fetch(self.session)
        finally:
            _operation.reset(marker)
        client = Salesforce(
            session_id=token.access_token,
            instance_url=token.instance_url,
            version=self.api_version,
            session=self.session,
            object_pairs_hook=dict,
        )
        self._token, self._client = token, client
        log.info("salesforce.signed_in", mode=self.token_source.mode, instance=token.instance_url)
        return client

    def client(self) -> Salesforce:
        with self._lock:
            return self._client if self._client is not None else self._login()

    def token(self) -> AccessToken:
        self.client()
        assert self._token is not None  # set by _login
        return self._token

    def _refresh(self, stale: Salesforce | None) -> None:
        with self._lock:
            # Another thread may already have replaced the expired client.
            if self._client is None or self._client is stale:
                self._client = None
                self._login()

    # -- the call loop ----------------------------------------------------------------------
    def check_budget(self, operation: str) -> None:
        if self.usage.limit_exceeded_recently(self.limit_cooldown_seconds):
            raise RequestLimitExceeded(
                "Salesforce reported REQUEST_LIMIT_EXCEEDED recently; not calling again yet",
                error_code="REQUEST_LIMIT_EXCEEDED",
                operation=operation,
            )
        share = self.usage.share_used(max_age=self.usage_max_age_seconds)
        if share is not None and share >= self.budget_share:
            raise BudgetExhausted(
                f"{share:.1%} of the org's daily API limit is used; the bridge stops at "
                f"{self.budget_share:.0%}",
                operation=operation,
            )

    def call(self, operation: str, fn: Callable[[Salesforce], T], *, idempotent: bool = True) -> T:
        """Run `fn(client)` (exactly one HTTP request) under the rules above."""
        marker = _operation.set(operation)
        try:
            refreshed = False
            attempt = 0
            while True:
                self.check_budget(operation)
                client = self._client
                try:
                    client = self.client()
                    # Counted when sent, not when answered: a request that timed out may
                    # still have been processed (and billed) by Salesforce.
                    self.usage.record_call(operation)
                    return fn(client)
                except Exception as exc:  # translated below; unknown exceptions re-raised
                    cause: Exception = exc
                    error = self._translate(exc, operation, idempotent)
                    if error is None:
                        raise
                if isinstance(error, SessionExpired) and not refreshed:
                    refreshed = True
                    log.info("salesforce.session_refresh", operation=operation)
                    self._refresh(client)
                    continue
                if isinstance(error, RequestLimitExceeded):
                    self._on_limit_exceeded(error)
                    raise error from cause
                if isinstance(error, TransientError):
                    if attempt < self.retry.max_retries:
                        delay = self.retry.delay(attempt)
                        attempt += 1
                        log.warning(
                            "salesforce.retry",
                            operation=operation,
                            attempt=attempt,
                            delay_s=round(delay, 3),
                            error_code=error.error_code,
                            status=error.status,
                        )
                        self._sleep(delay)
                        continue
                    error.attempts = attempt + 1
                    log.error(
                        "salesforce.retries_exhausted",
                        operation=operation,
                        attempts=error.attempts,
                        error_code=error.error_code,
                        status=error.status,
                    )
                raise error from cause
        finally:
            _operation.reset(marker)

    def backoff(self, attempt: int, operation: str, reason: str) -> None:
        """Sleep before retrying some records of a batch (per-record lock failures)."""
        delay = self.retry.delay(attempt)
        log.warning(
            "salesforce.retry_records",
            operation=operation,
            attempt=attempt + 1,
            delay_s=round(delay, 3),
            reason=reason,
        )
        self._sleep(delay)

    def _on_limit_exceeded(self, error: SalesforceError) -> None:
        # "ConcurrentPerOrgLongTxn Limit exceeded" is about parallel long requests, not the
        # daily budget: raise it, but do not go quiet for a cool-down.
        if "concurrent" not in error.message.lower():
            self.usage.mark_limit_exceeded()
        log.error("salesforce.request_limit_exceeded", operation=error.operation)

    @staticmethod
    def _translate(exc: Exception, operation: str, idempotent: bool) -> SalesforceError | None:
        if isinstance(exc, SalesforceError):
            if exc.operation is None:
                exc.operation = operation
            return exc
        if isinstance(exc, SimpleSalesforceError):
            return from_rest_failure(exc.status, exc.content, operation)
        if isinstance(exc, requests.ConnectTimeout | requests.exceptions.SSLError):
            # Never reached Salesforce (or refused its certificate: not transient).
            if isinstance(exc, requests.exceptions.SSLError):
                return SalesforceError(f"TLS failure: {exc}", operation=operation)
            return TransientError("connect timeout", operation=operation)
        if isinstance(exc, requests.RequestException):
            # The request may have been processed: only idempotent calls are retried.
            message = f"{type(exc).__name__} talking to Salesforce"
            if idempotent:
                return TransientError(message, operation=operation)
            return SalesforceError(message + " (outcome unknown)", operation=operation)
        return None

    def close(self) -> None:
        self.session.close()
