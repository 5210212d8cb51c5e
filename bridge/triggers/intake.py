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
from collections.abc import Sequence
from dataclasses import dataclass, field
from enum import IntEnum

import redis
import redis.asyncio as aioredis

from bridge.coalesce import Coalescer
from bridge.credits.lease import lease_key
from bridge.gcra import GCRA_LUA, PERIOD_MS
from config.logging import new_request_id

STREAM = "bridge:triggers:stream"
SEEN_PREFIX = "bridge:triggers:seen:"
# Senders retry for up to a day (Outbound Messages: 24 h); keep dedupe keys a little longer.
SEEN_TTL_SECONDS = 2 * 24 * 3600
# The whole batch travels as ONE argument and the answer as ONE string: with redis-py, encoding
# every argument and parsing every nested reply element cost more than the script itself.
_FIELD, _RECORD = "\x1f", "\x1e"  # never in ids, events, job ids or validated request ids

# KEYS: the stream (per-submission keys travel in the payload: one Redis, not a cluster).
# ARGV: seen ttl, period ms, the batch: per submission, each value followed by \x1f: rate-limit
# key, limit (0 = none), seen key, lease key ('' = none), cost, job id, then the stream
# fields; each submission followed by \x1e.
# Returns one line per submission, "status value rate_remaining rate_reset_ms rate_retry_ms":
# status 1 accepted (value: credits left in the lease, -1 if free), 2 duplicate (value: the
# job id accepted first), 0 rate-limited, 3 the lease cannot pay (value: credits held).
_ACCEPT = GCRA_LUA + """
local now = now_ms()
local ttl, period = ARGV[1], tonumber(ARGV[2])
local out = {}
for record in string.gmatch(ARGV[3], '([^\\30]*)\\30') do
  local f = {}
  for part in string.gmatch(record, '([^\\31]*)\\31') do f[#f + 1] = part end
  local limit, seen, lease, cost, job = tonumber(f[2]), f[3], f[4], tonumber(f[5]), f[6]
  local rl = {1, -1, 0, 0}
  if limit > 0 then rl = gcra(f[1], limit, now, period) end
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
        redis.call('XADD', KEYS[1], '*', unpack(f, 7))
        if seen ~= '' then redis.call('SET', seen, job, 'EX', ttl) end
      end
    end
  end
  out[#out + 1] = status .. ' ' .. value .. ' ' .. rl[2] .. ' ' .. rl[3] .. ' ' .. rl[4]
end
return table.concat(out, '\\n')
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
    job_id: str = field(default_factory=new_request_id)
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
    records = []
    for s in submissions:
        limit = s.rate_limit if s.rate_key else 0
        lease = lease_key(s.tenant_id) if s.cost else ""
        values = [s.rate_key, str(limit), s.seen_key(), lease, str(s.cost), s.job_id, *s.fields()]
        records.append(_FIELD.join(values) + _FIELD + _RECORD)
    return [stream], [SEEN_TTL_SECONDS, PERIOD_MS, "".join(records)]


def _results(submissions: Sequence[Submission], raw: bytes | str) -> list[Accepted]:
    lines = (raw.decode() if isinstance(raw, bytes) else raw).split("\n")
    out = []
    for submission, line in zip(submissions, lines, strict=True):
        status, value, remaining, reset, retry = line.split(" ")
        kind = Status(int(status))
        rate = (int(float(remaining)), int(float(reset)), int(float(retry)))
        if kind is Status.DUPLICATE:
            out.append(Accepted(value, kind, rate=rate))
        else:
            out.append(Accepted(submission.job_id, kind, int(float(value)), rate))
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
        self._coalescer: Coalescer[Submission, Accepted] = Coalescer(
            self._flush, max_batch=500, max_inflight=4
        )

    async def accept(self, submission: Submission) -> Accepted:
        return await self._coalescer.submit(submission)

    async def _flush(self, submissions: list[Submission]) -> list[Accepted]:
        keys, args = _call(submissions, self._stream)
        return _results(submissions, await self._script(keys=keys, args=args))
