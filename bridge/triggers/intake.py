"""Accepting trigger work into Redis: one atomic script per callout, pipelined across callouts.

A callout is accepted once its ids are in the intake stream (Redis, append-only persisted in
production). The dedupe key on `webhook-id` is written by the same script as the XADD, so a
failed enqueue can never leave a key behind that would wrongly drop the sender's retry.

Concurrent handlers do not each pay a Redis round trip: `Intake.accept` queues the call and one
flusher sends everything queued so far as a single pipeline, so throughput grows with load.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from dataclasses import dataclass, field

import redis
import redis.asyncio as aioredis

STREAM = "bridge:triggers:stream"
SEEN_PREFIX = "bridge:triggers:seen:"
# Senders retry for up to a day (Outbound Messages: 24 h); keep dedupe keys a little longer.
SEEN_TTL_SECONDS = 2 * 24 * 3600
MAX_PIPELINE = 512

_ACCEPT = """
if ARGV[1] == '1' then
  local previous = redis.call('GET', KEYS[1])
  if previous then return {0, previous} end
end
redis.call('XADD', KEYS[2], '*', unpack(ARGV, 4))
if ARGV[1] == '1' then redis.call('SET', KEYS[1], ARGV[3], 'EX', ARGV[2]) end
return {1, ARGV[3]}
"""


@dataclass(frozen=True)
class Submission:
    """Record ids of one object from one source, as they go into the stream."""

    tenant_id: int
    object: str
    ids: tuple[str, ...]
    event: str
    source: str  # webhook | outbound | poll
    request_id: str
    org_id: str = ""
    dedupe_key: str | None = None  # e.g. the webhook-id; None: no dedupe at intake
    job_id: str = field(default_factory=lambda: uuid.uuid4().hex)

    def fields(self) -> list[str]:
        return [
            "t", str(self.tenant_id), "o", self.object, "e", self.event, "s", self.source,
            "r", self.request_id, "g", self.org_id, "j", self.job_id,
            "at", str(int(time.time() * 1000)), "ids", " ".join(self.ids),
        ]  # fmt: skip


@dataclass(frozen=True)
class Accepted:
    job_id: str
    duplicate: bool


def _keys_and_args(submission: Submission, stream: str) -> tuple[list[str], list[object]]:
    dedupe = submission.dedupe_key
    seen_key = f"{SEEN_PREFIX}{submission.tenant_id}:{dedupe}" if dedupe else f"{SEEN_PREFIX}-"
    args: list[object] = ["1" if dedupe else "0", SEEN_TTL_SECONDS, submission.job_id]
    return [seen_key, stream], [*args, *submission.fields()]


def _accepted(result: object) -> Accepted:
    accepted, job_id = result  # type: ignore[misc]
    job = job_id.decode() if isinstance(job_id, bytes) else str(job_id)
    return Accepted(job_id=job, duplicate=not int(accepted))


def accept_sync(
    client: redis.Redis, submissions: list[Submission], stream: str = STREAM
) -> list[Accepted]:
    """The same atomic accept for synchronous callers (the poller), in one pipeline."""
    script = client.register_script(_ACCEPT)
    with client.pipeline(transaction=False) as pipe:
        for submission in submissions:
            keys, args = _keys_and_args(submission, stream)
            script(keys=keys, args=args, client=pipe)
        return [_accepted(result) for result in pipe.execute()]


class Intake:
    def __init__(self, redis: aioredis.Redis, stream: str = STREAM) -> None:
        self._redis = redis
        self._stream = stream
        self._script = redis.register_script(_ACCEPT)
        self._queue: list[tuple[Submission, asyncio.Future[Accepted]]] = []
        self._flusher: asyncio.Task[None] | None = None

    async def accept(self, submission: Submission) -> Accepted:
        future: asyncio.Future[Accepted] = asyncio.get_running_loop().create_future()
        self._queue.append((submission, future))
        if self._flusher is None or self._flusher.done():
            self._flusher = asyncio.create_task(self._flush())
        return await future

    async def _flush(self) -> None:
        # Yield once so every handler runnable in this loop turn joins the first pipeline.
        await asyncio.sleep(0)
        while self._queue:
            batch, self._queue = self._queue[:MAX_PIPELINE], self._queue[MAX_PIPELINE:]
            try:
                results = await self._send(batch)
            except Exception as exc:
                for _, future in batch:
                    if not future.done():
                        future.set_exception(exc)
                continue
            for (_, future), result in zip(batch, results, strict=True):
                if future.done():
                    continue
                if isinstance(result, Exception):
                    future.set_exception(result)
                else:
                    future.set_result(_accepted(result))

    async def _send(
        self, batch: list[tuple[Submission, asyncio.Future[Accepted]]]
    ) -> list[object]:
        async with self._redis.pipeline(transaction=False) as pipe:
            for submission, _ in batch:
                keys, args = _keys_and_args(submission, self._stream)
                await self._script(keys=keys, args=args, client=pipe)
            return list(await pipe.execute(raise_on_error=False))
