"""The customer's Apex side: after-insert/update/undelete triggers that call the bridge.

Like a Platform Event trigger that enqueues a Queueable with `Database.AllowsCallouts`, each
committed API call's trigger events are grouped per object and event (at most 100 ids per
callout) and POSTed from a background queue:

    {"object": "Lead", "ids": [...], "event": "after_insert", "org_id": "00D..."}

signed per Standard Webhooks (`webhook-id`, `webhook-timestamp`, `webhook-signature`), with
`Authorization: Bearer <api key>` when one is configured. Failed deliveries (non-2xx or
connection errors) are retried with exponential backoff. Callouts can be switched off, or a
share of them silently dropped (`drop_rate`) to simulate an outage.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import random
import secrets
import time
import uuid
from collections import deque
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import aiohttp
from standardwebhooks import Webhook

from sandbox.records import TriggerEvent

MAX_IDS_PER_CALLOUT = 100
DEFAULT_OBJECTS = ("Lead", "Contact", "Account", "Opportunity")


def new_secret() -> str:
    return "whsec_" + secrets.token_urlsafe(24).replace("-", "A").replace("_", "B") + "="


@dataclass
class CalloutConfig:
    url: str | None = None
    secret: str = field(default_factory=new_secret)
    api_key: str | None = None
    enabled: bool = True
    drop_rate: float = 0.0
    objects: list[str] = field(default_factory=lambda: list(DEFAULT_OBJECTS))
    max_attempts: int = 6
    backoff_seconds: float = 0.5
    max_backoff_seconds: float = 30.0
    timeout_seconds: float = 10.0

    def public(self) -> dict[str, Any]:
        return {
            "url": self.url, "secret": self.secret, "api_key": self.api_key,
            "enabled": self.enabled, "drop_rate": self.drop_rate, "objects": self.objects,
            "max_attempts": self.max_attempts, "backoff_seconds": self.backoff_seconds,
            "max_backoff_seconds": self.max_backoff_seconds,
            "timeout_seconds": self.timeout_seconds,
        }  # fmt: skip

    def update(self, changes: dict[str, Any]) -> None:
        for key, value in changes.items():
            if key not in self.public():
                raise ValueError(f"unknown callout setting {key!r}")
            if key == "secret" and value is not None:
                Webhook(str(value))  # validate
            setattr(self, key, value)


@dataclass
class Callout:
    object_name: str
    event: str
    ids: list[str]
    webhook_id: str = field(default_factory=lambda: f"msg_{uuid.uuid4().hex}")
    attempts: int = 0


class CalloutDispatcher:
    def __init__(self, config: CalloutConfig, org_id: str, seed: int | None = None) -> None:
        self.config = config
        self.org_id = org_id
        self.random = random.Random(seed)
        self.queue: asyncio.Queue[Callout] = asyncio.Queue()
        self.inflight: set[asyncio.Task[None]] = set()
        self.log: deque[dict[str, Any]] = deque(maxlen=1000)
        self.stats = {"enqueued": 0, "delivered": 0, "failed_attempts": 0, "dropped": 0,
                      "gave_up": 0, "suppressed": 0}  # fmt: skip
        self._worker: asyncio.Task[None] | None = None
        self._session: aiohttp.ClientSession | None = None

    # --- producer -----------------------------------------------------------------------
    def enqueue(self, events: list[TriggerEvent]) -> list[Callout]:
        """Group a committed call's events into callouts and queue them."""
        grouped: dict[tuple[str, str], list[str]] = {}
        for event in events:
            if event.object_name in self.config.objects:
                ids = grouped.setdefault((event.object_name, event.event), [])
                if event.record_id not in ids:
                    ids.append(event.record_id)
        callouts: list[Callout] = []
        for (object_name, event_name), ids in grouped.items():
            for start in range(0, len(ids), MAX_IDS_PER_CALLOUT):
                callout = Callout(object_name, event_name, ids[start : start + MAX_IDS_PER_CALLOUT])
                if not self.config.enabled or not self.config.url:
                    self.stats["suppressed"] += 1
                    continue
                if self.config.drop_rate and self.random.random() < self.config.drop_rate:
                    self.stats["dropped"] += 1
                    self._record(callout, "dropped", None)
                    continue
                self.stats["enqueued"] += 1
                self.queue.put_nowait(callout)
                callouts.append(callout)
        return callouts

    @property
    def pending(self) -> int:
        return self.queue.qsize() + len(self.inflight)

    # --- consumer -----------------------------------------------------------------------
    async def start(self) -> None:
        self._session = aiohttp.ClientSession()
        self._worker = asyncio.create_task(self._run())

    async def stop(self) -> None:
        if self._worker:
            self._worker.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._worker
        for task in list(self.inflight):
            task.cancel()
        if self.inflight:
            await asyncio.gather(*self.inflight, return_exceptions=True)
        if self._session:
            await self._session.close()

    async def _run(self) -> None:
        while True:
            callout = await self.queue.get()
            task = asyncio.create_task(self._deliver(callout))
            self.inflight.add(task)
            task.add_done_callback(self.inflight.discard)

    def _body(self, callout: Callout) -> str:
        return json.dumps(
            {"object": callout.object_name, "ids": callout.ids, "event": callout.event,
             "org_id": self.org_id},
            separators=(",", ":"),
        )  # fmt: skip

    def _headers(self, callout: Callout, body: str) -> dict[str, str]:
        moment = datetime.now(UTC)
        headers = {
            "Content-Type": "application/json",
            "User-Agent": "SFDC-Callout/60.0",
            "webhook-id": callout.webhook_id,
            "webhook-timestamp": str(int(moment.timestamp())),
            "webhook-signature": Webhook(self.config.secret).sign(callout.webhook_id, moment, body),
        }
        if self.config.api_key:
            headers["Authorization"] = f"Bearer {self.config.api_key}"
        return headers

    async def _deliver(self, callout: Callout) -> None:
        assert self._session is not None
        body = self._body(callout)
        while True:
            callout.attempts += 1
            status: int | None = None
            error: str | None = None
            url = self.config.url
            if not url:
                error = "no callout url configured"
            else:
                try:
                    timeout = aiohttp.ClientTimeout(total=self.config.timeout_seconds)
                    async with self._session.post(
                        url, data=body.encode(), headers=self._headers(callout, body),
                        timeout=timeout,
                    ) as response:  # fmt: skip
                        status = response.status
                        await response.read()
                except (aiohttp.ClientError, TimeoutError) as exc:
                    error = f"{type(exc).__name__}: {exc}"
            if status is not None and 200 <= status < 300:
                self.stats["delivered"] += 1
                self._record(callout, "delivered", status)
                return
            self.stats["failed_attempts"] += 1
            self._record(callout, "failed", status, error)
            if callout.attempts >= self.config.max_attempts:
                self.stats["gave_up"] += 1
                self._record(callout, "gave_up", status, error)
                return
            delay = min(
                self.config.max_backoff_seconds,
                self.config.backoff_seconds * 2 ** (callout.attempts - 1),
            )
            await asyncio.sleep(delay * (0.5 + self.random.random() / 2))

    def _record(
        self, callout: Callout, outcome: str, status: int | None, error: str | None = None
    ) -> None:
        self.log.append(
            {"webhook_id": callout.webhook_id, "object": callout.object_name,
             "event": callout.event, "ids": callout.ids, "attempt": callout.attempts,
             "outcome": outcome, "status": status, "error": error, "at": time.time()}
        )  # fmt: skip

    def snapshot(self, limit: int = 200) -> dict[str, Any]:
        return {
            "config": self.config.public(),
            "stats": dict(self.stats),
            "pending": self.pending,
            "log": list(self.log)[-limit:],
        }
