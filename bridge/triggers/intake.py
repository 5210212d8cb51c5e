"""Accepting trigger work into Redis: one atomic script call per batch of concurrent callouts.

A callout is accepted once its ids are in the intake stream (Redis, append-only persisted in
production). The dedupe key on `webhook-id` is written by the same script as the XADD, so a
failed enqueue can never leave a key behind that would wrongly drop the sender's retry.

Concurrent handlers do not each pay a Redis round trip: `Intake.accept` goes through a
`Coalescer`, and everything queued meanwhile is accepted by ONE script call, so the cost per
callout falls as load rises.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field

import redis
import redis.asyncio as aioredis

from bridge.coalesce import Coalescer

STREAM = "bridge:triggers:stream"
SEEN_PREFIX = "bridge:triggers:seen:"
# Senders retry for up to a day (Outbound Messages: 24 h); keep dedupe keys a little longer.
SEEN_TTL_SECONDS = 2 * 24 * 3600
FIELD_COUNT = 18  # name/value entries per stream entry, see Submission.fields

# KEYS: stream, then one seen-key per submission ('' = no dedupe).
# ARGV: ttl, then per submission: job id followed by FIELD_COUNT field names/values.
# Returns per submission: 1 accepted, or the job id that accepted it first (a duplicate).
_ACCEPT = """
local ttl = ARGV[1]
local out = {}
local a = 2
for i = 2, #KEYS do
  local job = ARGV[a]
  local seen = KEYS[i]
  local previous = false
  if seen ~= '' then previous = redis.call('GET', seen) end
  if previous then
    out[#out + 1] = previous
  else
    redis.call('XADD', KEYS[1], '*', unpack(ARGV, a + 1, a + FIELDS))
    if seen ~= '' then redis.call('SET', seen, job, 'EX', ttl) end
    out[#out + 1] = 1
  end
  a = a + 1 + FIELDS
end
return out
""".replace("FIELDS", str(FIELD_COUNT))


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

    def seen_key(self) -> str:
        return f"{SEEN_PREFIX}{self.tenant_id}:{self.dedupe_key}" if self.dedupe_key else ""


@dataclass(frozen=True)
class Accepted:
    job_id: str
    duplicate: bool


def _call(submissions: Sequence[Submission], stream: str) -> tuple[list[str], list[object]]:
    keys = [stream, *(s.seen_key() for s in submissions)]
    args: list[object] = [SEEN_TTL_SECONDS]
    for s in submissions:
        args.append(s.job_id)
        args.extend(s.fields())
    return keys, args


def _results(submissions: Sequence[Submission], raw: Sequence[object]) -> list[Accepted]:
    out = []
    for submission, value in zip(submissions, raw, strict=True):
        if value == 1:
            out.append(Accepted(submission.job_id, duplicate=False))
        else:
            job = value.decode() if isinstance(value, bytes) else str(value)
            out.append(Accepted(job, duplicate=True))
    return out


def accept_sync(
    client: redis.Redis, submissions: list[Submission], stream: str = STREAM
) -> list[Accepted]:
    """The same atomic accept for synchronous callers (the poller)."""
    if not submissions:
        return []
    keys, args = _call(submissions, stream)
    return _results(submissions, client.register_script(_ACCEPT)(keys=keys, args=args))


class Intake:
    def __init__(self, client: aioredis.Redis, stream: str = STREAM) -> None:
        self._stream = stream
        self._script = client.register_script(_ACCEPT)
        self._coalescer: Coalescer[Submission, Accepted] = Coalescer(self._flush, max_batch=500)

    async def accept(self, submission: Submission) -> Accepted:
        return await self._coalescer.submit(submission)

    async def _flush(self, submissions: list[Submission]) -> list[Accepted]:
        keys, args = _call(submissions, self._stream)
        return _results(submissions, await self._script(keys=keys, args=args))
