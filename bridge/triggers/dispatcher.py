"""Coalescing accepted ids into worker batches of up to 200 per tenant and object.

Reads the intake stream through a consumer group. Ids of one tenant and object collect in a
buffer that is cut into a batch as soon as it holds `batch_size` ids, or when its oldest id has
waited `linger` seconds. A stream entry is acknowledged (and deleted) only after every id in it
went out in a published batch, so a dispatcher that dies loses nothing: its pending entries are
claimed by the next one after `claim_idle` seconds. That can publish an id twice; the pipeline is
idempotent per record version, so a redelivery changes nothing.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import redis
import structlog

from bridge.triggers.intake import STREAM

log = structlog.get_logger(__name__)

GROUP = "dispatchers"
BATCH_SIZE = 200


@dataclass
class BatchItem:
    id: str
    request_id: str
    source: str
    event: str


@dataclass
class Batch:
    tenant_id: int
    object: str
    items: list[BatchItem]

    def payload(self) -> dict[str, Any]:
        return {
            "tenant_id": self.tenant_id,
            "object": self.object,
            "items": [[i.id, i.request_id, i.source, i.event] for i in self.items],
        }

    @classmethod
    def from_payload(cls, data: dict[str, Any]) -> Batch:
        return cls(
            tenant_id=int(data["tenant_id"]),
            object=str(data["object"]),
            items=[BatchItem(*item) for item in data["items"]],
        )


@dataclass
class _Buffer:
    first_at: float
    items: list[tuple[BatchItem, bytes]] = field(default_factory=list)


class Dispatcher:
    def __init__(
        self,
        client: redis.Redis,
        publish: Callable[[Batch], None],
        *,
        consumer: str,
        stream: str = STREAM,
        batch_size: int = BATCH_SIZE,
        linger: float = 0.25,
        claim_idle: float = 30.0,
    ) -> None:
        self.redis = client
        self.publish = publish
        self.consumer = consumer
        self.stream = stream
        self.batch_size = batch_size
        self.linger = linger
        self.claim_idle_ms = int(claim_idle * 1000)
        self._buffers: dict[tuple[int, str], _Buffer] = {}
        # Stream entry id -> ids of it not yet published.
        self._outstanding: dict[bytes, int] = {}
        self._stopping = False
        self.published_batches = 0
        self.published_ids = 0

    def ensure_group(self) -> None:
        try:
            self.redis.xgroup_create(self.stream, GROUP, id="0", mkstream=True)
        except redis.ResponseError as exc:
            if "BUSYGROUP" not in str(exc):
                raise

    def stop(self) -> None:
        self._stopping = True

    def run(self) -> None:
        """Dispatch until `stop()`; then flush what is buffered."""
        self.ensure_group()
        self._read_own_pending()
        last_claim = 0.0
        while not self._stopping:
            if time.monotonic() - last_claim > self.claim_idle_ms / 2000:
                self._claim_stale()
                last_claim = time.monotonic()
            self.step(block_ms=self._block_ms())
        self.flush(force=True)

    def step(self, block_ms: int = 0) -> int:
        """Read what is new, cut ripe batches; returns entries read (for tests/benchmarks)."""
        response = self.redis.xreadgroup(
            GROUP, self.consumer, {self.stream: ">"}, count=1000, block=block_ms or None
        )
        read = 0
        for _stream, entries in response or []:
            read += len(entries)
            for entry_id, fields in entries:
                self._take(entry_id, fields)
        self.flush()
        return read

    def flush(self, force: bool = False) -> None:
        now = time.monotonic()
        for key, buffer in list(self._buffers.items()):
            while len(buffer.items) >= self.batch_size:
                self._publish(key, buffer.items[: self.batch_size])
                buffer.items = buffer.items[self.batch_size :]
            if buffer.items and (force or now - buffer.first_at >= self.linger):
                self._publish(key, buffer.items)
                buffer.items = []
            if not buffer.items:
                del self._buffers[key]

    def _block_ms(self) -> int:
        if not self._buffers:
            return 1000
        oldest = min(b.first_at for b in self._buffers.values())
        return max(1, int((self.linger - (time.monotonic() - oldest)) * 1000))

    def _take(self, entry_id: bytes, fields: dict[bytes, bytes]) -> None:
        if entry_id in self._outstanding:
            return  # already buffered (re-read after a claim)
        tenant_id = int(fields[b"t"])
        sobject = fields[b"o"].decode()
        ids = fields[b"ids"].decode().split()
        if not ids:
            self._ack([entry_id])
            return
        request_id = fields.get(b"r", b"").decode()
        source = fields.get(b"s", b"").decode()
        event = fields.get(b"e", b"").decode()
        buffer = self._buffers.setdefault((tenant_id, sobject), _Buffer(time.monotonic()))
        self._outstanding[entry_id] = len(ids)
        for record_id in ids:
            buffer.items.append((BatchItem(record_id, request_id, source, event), entry_id))

    def _publish(self, key: tuple[int, str], items: list[tuple[BatchItem, bytes]]) -> None:
        # Within one batch a record appears once; its first arrival's request id is kept.
        unique: dict[str, BatchItem] = {}
        for item, _ in items:
            unique.setdefault(item.id, item)
        self.publish(Batch(tenant_id=key[0], object=key[1], items=list(unique.values())))
        self.published_batches += 1
        self.published_ids += len(unique)
        done = []
        for _, entry_id in items:
            self._outstanding[entry_id] -= 1
            if self._outstanding[entry_id] == 0:
                del self._outstanding[entry_id]
                done.append(entry_id)
        self._ack(done)

    def _ack(self, entry_ids: list[bytes]) -> None:
        if not entry_ids:
            return
        pipe = self.redis.pipeline(transaction=True)
        pipe.xack(self.stream, GROUP, *entry_ids)
        pipe.xdel(self.stream, *entry_ids)
        pipe.execute()

    def _read_own_pending(self) -> None:
        # After a restart under the same consumer name, our unacked entries come back first.
        response = self.redis.xreadgroup(GROUP, self.consumer, {self.stream: "0"}, count=10_000)
        for _stream, entries in response or []:
            for entry_id, fields in entries:
                if fields:
                    self._take(entry_id, fields)

    def _claim_stale(self) -> None:
        start = "0-0"
        while True:
            result = self.redis.xautoclaim(
                self.stream, GROUP, self.consumer, self.claim_idle_ms, start_id=start, count=500
            )
            start, entries = result[0], result[1]
            for entry_id, fields in entries:
                if fields:
                    self._take(entry_id, fields)
            if entries:
                log.info("claimed stale trigger entries", count=len(entries))
            if start in (b"0-0", "0-0"):
                break
