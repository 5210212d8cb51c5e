"""Accepting trigger work into Redis: one atomic script call per batch of concurrent callouts.

A callout is accepted once its ids are in the intake stream (Redis, append-only persisted in
production). One script does all of a callout's Redis work, so the hot path is one round trip:
the rate limit (GCRA, shared with `bridge.web.ratelimit`), the dedupe on `webhook-id`, paying
from the tenant's credit lease (`bridge.credits.lease`) and the XADD. Everything is decided
and written together, so a refused or failed callout leaves no dedupe key or charge behind
that would wrongly drop or bill the sender's retry.

Concurrent handlers do not each pay a Redis round trip: `Intake.accept` goes through a
`Coalescer`, and everything queued meanwhile is accepted by ONE script call, so the cost per
callout falls as load rises.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from enum import IntEnum

import redis
import redis.asyncio as aioredis

from bridge.coalesce import Coalescer
from bridge.credits.lease import lease_key
from bridge.gcra import GCRA_LUA, PERIOD_MS

STREAM = "bridge:triggers:stream"
SEEN_PREFIX = "bridge:triggers:seen:"
# Senders retry for up to a day (Outbound Messages: 24 h); keep dedupe keys a little longer.
SEEN_TTL_SECONDS = 2 * 24 * 3600
_SEP = "\x1f"  # between packed stream fields: never in ids, events or validated request ids

# KEYS: stream, then per submission: rate-limit key, seen key, lease key ('' = none).
# ARGV: seen ttl, period ms, then per submission: limit (0 = none), cost, job id, and the
# stream fields packed into one string (fewer arguments: encoding them is the client's cost).
# Returns per submission {status, value, rate remaining, rate reset ms, rate retry ms}:
# 1 accepted (value: credits left in the lease, -1 if free), 2 duplicate (value: the job id
# that was accepted first), 0 rate-limited, 3 the lease cannot pay (value: credits held).
_ACCEPT = GCRA_LUA + """
local now = now_ms()
local ttl, period = ARGV[1], tonumber(ARGV[2])
local out = {}
local k, a = 2, 3
for n = 1, (#ARGV - 2) / 4 do
  local limit, cost = tonumber(ARGV[a]), tonumber(ARGV[a + 1])
  local seen, lease = KEYS[k + 1], KEYS[k + 2]
  local rl = {1, -1, 0, 0}
  if limit > 0 then rl = gcra(KEYS[k], limit, now, period) end
  local status, value = 0, 0
  if rl[1] == 1 then
    local previous = false
    if seen ~= '' then previous = redis.call('GET', seen) end
    if previous then
      status, value = 2, previous
    else
      status, value = 1, -1
      if cost > 0 then
        local held = tonumber(redis.call('HGET', lease, 'c')) or 0
        if held < cost then
          status, value = 3, held
        else
          value = redis.call('HINCRBY', lease, 'c', -cost)
          redis.call('HSET', lease, 'at', now)
        end
      end
      if status == 1 then
        local fields = {}
        for part in string.gmatch(ARGV[a + 3], '([^\\31]*)\\31') do fields[#fields + 1] = part end
        redis.call('XADD', KEYS[1], '*', unpack(fields))
        if seen ~= '' then redis.call('SET', seen, ARGV[a + 2], 'EX', ttl) end
      end
    end
  end
  out[n] = {status, value, rl[2], rl[3], rl[4]}
  k, a = k + 3, a + 4
end
return out
"""


class Status(IntEnum):
    RATE_LIMITED = 0
    ACCEPTED = 1
    DUPLICATE = 2
    NEEDS_CREDITS = 3


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
    cost: int = 0  # credits paid from the tenant's lease; 0 = free (polling)
    rate_key: str = ""  # the caller's rate-limit key; "" = not limited here
    rate_limit: int = 0  # per minute

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
    status: Status = Status.ACCEPTED
    credits: int = -1  # lease left after paying (ACCEPTED) or held (NEEDS_CREDITS)
    rate: tuple[int, int, int] = (-1, 0, 0)  # remaining, reset ms, retry ms (GCRA)

    @property
    def duplicate(self) -> bool:
        return self.status is Status.DUPLICATE


def _call(submissions: Sequence[Submission], stream: str) -> tuple[list[str], list[object]]:
    keys = [stream]
    args: list[object] = [SEEN_TTL_SECONDS, PERIOD_MS]
    for s in submissions:
        lease = lease_key(s.tenant_id) if s.cost else ""
        keys += [s.rate_key if s.rate_limit else "", s.seen_key(), lease]
        packed = "".join(f"{part}{_SEP}" for part in s.fields())
        args += [s.rate_limit if s.rate_key else 0, s.cost, s.job_id, packed]
    return keys, args


def _text(value: object) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


def _results(submissions: Sequence[Submission], raw: Sequence[Sequence[object]]) -> list[Accepted]:
    out = []
    for submission, (status, value, remaining, reset, retry) in zip(submissions, raw, strict=True):
        kind = Status(int(status))  # type: ignore[call-overload]
        rate = (int(remaining), int(reset), int(retry))  # type: ignore[call-overload]
        if kind is Status.DUPLICATE:
            out.append(Accepted(_text(value), kind, rate=rate))
        else:
            out.append(Accepted(submission.job_id, kind, int(value), rate))  # type: ignore[call-overload]
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
