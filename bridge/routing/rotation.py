"""The pick: smooth weighted round robin (nginx's algorithm) as one Redis Lua script.

Everything that must not race happens inside the script: the replay of an earlier assignment
of the same record (or Idempotency-Key), the cap checks, the weighted choice, the sequence
number and the cap counters. Two requests can therefore never take the same slot.

Per pick, every available member's current weight grows by its weight; the largest wins (ties
to the earlier member) and gives back the sum of the available weights. Weights 5/1/1 give
`a a b a c a a`; no member drifts more than one pick from its share. A member who is away
keeps their current weight frozen, so a returning rep resumes where they were (no flood of
catch-up assignments).

Redis keys (one hash tag per pool, so a cluster keeps a pool's keys on one node):
  bridge:routing:{T:POOL}:state            hash: init, seq, cw:<user> (current weights)
  bridge:routing:{T:POOL}:rec:<record id>  "user|seq|timestamp|pool_size" of its assignment
  bridge:routing:{T:POOL}:key:<hash>       the same, per Idempotency-Key
  bridge:routing:{T:POOL}:cap:<user|*>:<h|d|m>:<local period>  assignments in the period
                                           (counted only while that cap is set)
  bridge:routing:{T:POOL}:rebuild          lock while the state is rebuilt from route logs
A missing `init` field means the state was lost (or never existed): the script answers
`rebuild` and the caller restores it from the route logs before picking (see `rebuild.py`).
"""

from __future__ import annotations

import functools
import hashlib
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import redis

from bridge.routing.availability import Periods

PREFIX = "bridge:routing:"
POOL_CAPS = "*"  # the member slot of the pool-wide cap counters

# Counters live a little longer than their period (DST days have 25 h); the key carries the
# period's label, so a counter is never read after its period ends.
CAP_TTLS = (2 * 3600, 26 * 3600, 32 * 86400)

PICK_LUA = """
local state = KEYS[1]
if redis.call('HEXISTS', state, 'init') == 0 then return {'rebuild'} end
local memo_ttl = ARGV[2]
local with_key = ARGV[3] == '1'
if ARGV[4] == '0' then
  if with_key then
    local hit = redis.call('GET', KEYS[3])
    if hit then return {'cached', hit} end
  end
  local hit = redis.call('GET', KEYS[2])
  if hit then
    if with_key then redis.call('SET', KEYS[3], hit, 'EX', memo_ttl) end
    return {'cached', hit}
  end
end
local ttls = {$TTLS}
for p = 1, 3 do
  local cap = tonumber(ARGV[6 + p])
  if cap > 0 and tonumber(redis.call('GET', KEYS[3 + p]) or '0') >= cap then
    return {'none', 'pool_capped', '0'}
  end
end
if ARGV[5] == '1' then
  local all = redis.call('HGETALL', state)
  for i = 1, #all, 2 do
    if string.sub(all[i], 1, 3) == 'cw:' then redis.call('HSET', state, all[i], 0) end
  end
end
local n = tonumber(ARGV[10])
if n == 0 then return {'none', 'nobody', '0'} end
local cand = {}
local capped = 0
for i = 1, n do
  local base = 10 + (i - 1) * 5
  local ok = true
  for p = 1, 3 do
    local cap = tonumber(ARGV[base + 2 + p])
    if cap > 0 and tonumber(redis.call('GET', KEYS[6 + (i - 1) * 3 + p]) or '0') >= cap then
      ok = false
    end
  end
  if ok then cand[#cand + 1] = i else capped = capped + 1 end
end
if #cand == 0 then return {'none', 'nobody', tostring(capped)} end
local winner
local top = ARGV[6]
if top ~= '' then
  for _, i in ipairs(cand) do
    if ARGV[10 + (i - 1) * 5 + 1] == top then winner = i end
  end
  if not winner then return {'none', 'top_unavailable', tostring(capped)} end
else
  local fields = {}
  for k, i in ipairs(cand) do fields[k] = 'cw:' .. ARGV[10 + (i - 1) * 5 + 1] end
  local cws = redis.call('HMGET', state, unpack(fields))
  local total = 0
  local best, best_cw
  for k, i in ipairs(cand) do
    local cw = tonumber(cws[k] or 0) + tonumber(ARGV[10 + (i - 1) * 5 + 2])
    cws[k] = cw
    total = total + tonumber(ARGV[10 + (i - 1) * 5 + 2])
    if best == nil or cw > best_cw then best = k; best_cw = cw end
  end
  cws[best] = cws[best] - total
  winner = cand[best]
  local args = {}
  for k = 1, #cand do
    args[#args + 1] = fields[k]
    args[#args + 1] = cws[k]
  end
  redis.call('HSET', state, unpack(args))
end
local seq = redis.call('HINCRBY', state, 'seq', 1)
local wbase = 10 + (winner - 1) * 5
for p = 1, 3 do
  if tonumber(ARGV[6 + p]) > 0 and redis.call('INCR', KEYS[3 + p]) == 1 then
    redis.call('EXPIRE', KEYS[3 + p], ttls[p])
  end
  local key = KEYS[6 + (winner - 1) * 3 + p]
  if tonumber(ARGV[wbase + 2 + p]) > 0 and redis.call('INCR', key) == 1 then
    redis.call('EXPIRE', key, ttls[p])
  end
end
local value = ARGV[wbase + 1] .. '|' .. seq .. '|' .. ARGV[1] .. '|' .. #cand
redis.call('SET', KEYS[2], value, 'EX', memo_ttl)
if with_key then redis.call('SET', KEYS[3], value, 'EX', memo_ttl) end
local out = {'ok', value}
local all = redis.call('HGETALL', state)
for i = 1, #all, 2 do
  if string.sub(all[i], 1, 3) == 'cw:' then
    out[#out + 1] = string.sub(all[i], 4)
    out[#out + 1] = all[i + 1]
  end
end
return out
""".replace("$TTLS", ", ".join(map(str, CAP_TTLS)))


def pool_tag(tenant_id: int, pool: str) -> str:
    return f"{PREFIX}{{{tenant_id}:{pool}}}"


def state_key(tenant_id: int, pool: str) -> str:
    return f"{pool_tag(tenant_id, pool)}:state"


def record_key(tenant_id: int, pool: str, record_id: str) -> str:
    return f"{pool_tag(tenant_id, pool)}:rec:{record_id}"


def key_memo_key(tenant_id: int, pool: str, idempotency_key: str) -> str:
    # Hashed: keys are client-chosen strings of up to 255 characters.
    digest = hashlib.sha256(idempotency_key.encode()).hexdigest()[:32]
    return f"{pool_tag(tenant_id, pool)}:key:{digest}"


def cap_key(tenant_id: int, pool: str, user: str, period: str) -> str:
    return f"{pool_tag(tenant_id, pool)}:cap:{user}:{period}"


def rebuild_lock_key(tenant_id: int, pool: str) -> str:
    return f"{pool_tag(tenant_id, pool)}:rebuild"


@dataclass(frozen=True)
class Candidate:
    """An available pool member as one pick sees them (caps: hour, day, month; None: none)."""

    user_id: str
    weight: int
    caps: tuple[int | None, int | None, int | None]
    periods: Periods


@dataclass(frozen=True)
class PickArgs:
    tenant_id: int
    pool: str
    record_id: str
    now: datetime
    candidates: Sequence[Candidate]
    pool_caps: tuple[int | None, int | None, int | None]
    pool_periods: Periods
    memo_ttl: int
    idempotency_key: str | None = None
    replace: bool = False  # ignore (and overwrite) an earlier assignment of this record
    reset_counters: bool = False
    top_user: str | None = None


@dataclass(frozen=True)
class Memo:
    assigned_to: str
    sequence: int
    timestamp: datetime
    pool_size: int

    def encode(self) -> str:
        return f"{self.assigned_to}|{self.sequence}|{self.timestamp.isoformat()}|{self.pool_size}"

    @classmethod
    def decode(cls, value: str | bytes) -> Memo:
        text = value.decode() if isinstance(value, bytes) else value
        user, seq, stamp, size = text.split("|")
        return cls(user, int(seq), datetime.fromisoformat(stamp), int(size))


@dataclass(frozen=True)
class PickResult:
    """`status`: ok (a new pick), cached (an earlier one), none (nobody), rebuild (state lost)."""

    status: str
    memo: Memo | None = None
    reason: str | None = None  # for none: empty, nobody, pool_capped, top_unavailable
    capped: int = 0
    weights: dict[str, int] = field(default_factory=dict)  # current weights after the pick


def _cap(value: int | None) -> str:
    return str(value or 0)


@functools.lru_cache(maxsize=1024)
def _member_part(
    tenant_id: int,
    pool: str,
    pool_caps: tuple[int | None, int | None, int | None],
    pool_periods: Periods,
    candidates: tuple[Candidate, ...],
) -> tuple[tuple[str, ...], tuple[str, ...], tuple[str, ...]]:
    """The KEYS/ARGV that depend only on the pool, the minute and who is available.

    Identical for every pick of a pool within a minute while availability holds, so they are
    built once (the hot path then formats three keys and a timestamp).
    """
    pool_keys = tuple(cap_key(tenant_id, pool, POOL_CAPS, period) for period in pool_periods)
    keys: list[str] = []
    argv = [*(_cap(c) for c in pool_caps), str(len(candidates))]
    for c in candidates:
        keys.extend(cap_key(tenant_id, pool, c.user_id, period) for period in c.periods)
        argv.extend((c.user_id, str(c.weight), *(_cap(cap) for cap in c.caps)))
    return pool_keys, tuple(keys), tuple(argv)


def script_call(args: PickArgs) -> tuple[list[str], list[str]]:
    """KEYS and ARGV of one pick (see PICK_LUA for the layout)."""
    t, p = args.tenant_id, args.pool
    pool_keys, member_keys, member_argv = _member_part(
        t, p, args.pool_caps, args.pool_periods, tuple(args.candidates)
    )
    keys = [
        state_key(t, p),
        record_key(t, p, args.record_id),
        key_memo_key(t, p, args.idempotency_key or ""),
        *pool_keys,
        *member_keys,
    ]
    argv = [
        args.now.isoformat(),
        str(args.memo_ttl),
        "1" if args.idempotency_key else "0",
        "1" if args.replace else "0",
        "1" if args.reset_counters else "0",
        args.top_user or "",
        *member_argv,
    ]
    return keys, argv


def parse(raw: Sequence[Any]) -> PickResult:
    items = [r.decode() if isinstance(r, bytes) else str(r) for r in raw]
    status = items[0]
    if status == "rebuild":
        return PickResult("rebuild")
    if status == "none":
        return PickResult("none", reason=items[1], capped=int(items[2]))
    memo = Memo.decode(items[1])
    weights = {items[i]: int(float(items[i + 1])) for i in range(2, len(items), 2)}
    return PickResult(status, memo=memo, weights=weights)


class Rotation:
    """Runs the pick script; `pick_many` sends a batch in one round trip (the pipeline step)."""

    def __init__(self, client: redis.Redis) -> None:
        self.client = client
        self.script = client.register_script(PICK_LUA)

    def pick(self, args: PickArgs) -> PickResult:
        keys, argv = script_call(args)
        return parse(self.script(keys=keys, args=argv))

    def pick_many(self, batch: Sequence[PickArgs]) -> list[PickResult]:
        if len(batch) == 1:
            return [self.pick(batch[0])]
        if not batch:
            return []
        calls = [script_call(args) for args in batch]
        raw = self._evalsha(calls)
        missing = [i for i, r in enumerate(raw) if isinstance(r, redis.exceptions.NoScriptError)]
        if missing:  # Redis restarted or SCRIPT FLUSH: load once, redo only those
            self.client.script_load(PICK_LUA)
            for i, item in zip(missing, self._evalsha([calls[i] for i in missing]), strict=True):
                raw[i] = item
        for item in raw:
            if isinstance(item, Exception):
                raise item
        return [parse(item) for item in raw]

    def _evalsha(self, calls: Sequence[tuple[list[str], list[str]]]) -> list[Any]:
        # EVALSHA straight into a pipeline: redis-py's own script support would ask
        # SCRIPT EXISTS first, an extra round trip per batch.
        pipe = self.client.pipeline(transaction=False)
        for keys, argv in calls:
            pipe.evalsha(self.script.sha, len(keys), *keys, *argv)
        return list(pipe.execute(raise_on_error=False))

    def peek(
        self, tenant_id: int, pool: str, record_id: str, idempotency_key: str | None = None
    ) -> Memo | None:
        """The earlier assignment a pick would replay, read without picking."""
        names = [record_key(tenant_id, pool, record_id)]
        if idempotency_key:
            names.insert(0, key_memo_key(tenant_id, pool, idempotency_key))
        found = next((v for v in self.client.mget(names) if v is not None), None)
        return Memo.decode(found) if found is not None else None

    def initialized(self, tenant_id: int, pool: str) -> bool:
        return bool(self.client.hexists(state_key(tenant_id, pool), "init"))

    def sequence(self, tenant_id: int, pool: str) -> int | None:
        value = self.client.hget(state_key(tenant_id, pool), "seq")
        return int(value) if value is not None else None

    def weights(self, tenant_id: int, pool: str) -> dict[str, int]:
        raw = self.client.hgetall(state_key(tenant_id, pool))
        return {
            k.decode()[3:]: int(float(v)) for k, v in raw.items() if k.decode().startswith("cw:")
        }

    def forget(self, tenant_id: int, pool: str) -> None:
        """Drop a deleted pool's rotation (a pool re-created later rebuilds from its logs)."""
        self.client.delete(state_key(tenant_id, pool))
