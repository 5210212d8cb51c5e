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
  bridge:routing:{T:POOL}:key:<hash>       the same plus "|<record id>", per Idempotency-Key
                                           (a key reused for another record is refused)
  bridge:routing:{T:POOL}:cap:<user|*>:<h|d|m>:<local period>  assignments in the period
                                           (counted only while that cap is set)
  bridge:routing:{T:POOL}:rebuild          lock while the state is rebuilt from route logs
A missing `init` field means the state was lost (or never existed): the script answers
`rebuild` and the caller restores it from the route logs before picking (see `rebuild.py`).

One script call takes any number of picks of one pool, in order, atomically. KEYS: state, the
pool's 3 cap counters, 3 per available member, then per pick its record and Idempotency-Key
memo keys. ARGV: memo ttl, pool caps (hour, day, month; 0 = none), member count, 5 per
member (user, weight, caps), then per pick: timestamp, has key, replace, reset counters, top
user. The pool part is the same for every pick of a pool in a minute, so it is encoded once
(`Group`). The reply is one string, a tab-separated line per pick.
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
from bridge.routing.errors import IdempotencyKeyReused

PREFIX = "bridge:routing:"
POOL_CAPS = "*"  # the member slot of the pool-wide cap counters

# Counters live a little longer than their period (DST days have 25 h); the key carries the
# period's label, so a counter is never read after its period ends.
CAP_TTLS = (2 * 3600, 26 * 3600, 32 * 86400)

PICK_LUA = """
local state = KEYS[1]
if redis.call('HEXISTS', state, 'init') == 0 then return 'rebuild' end
local ttls = {$TTLS}
local memo_ttl = ARGV[1]
local pool_caps = {tonumber(ARGV[2]), tonumber(ARGV[3]), tonumber(ARGV[4])}
local n = tonumber(ARGV[5])
local kbase = 4 + 3 * n
local abase = 5 + 5 * n
local users, weights, caps = {}, {}, {}
for i = 1, n do
  local b = 5 + (i - 1) * 5
  users[i] = ARGV[b + 1]
  weights[i] = tonumber(ARGV[b + 2])
  caps[i] = {tonumber(ARGV[b + 3]), tonumber(ARGV[b + 4]), tonumber(ARGV[b + 5])}
end
local function reached(key, cap)
  return cap > 0 and tonumber(redis.call('GET', key) or '0') >= cap
end

local function pick(j)
  local rec, memo = KEYS[kbase + 2 * j - 1], KEYS[kbase + 2 * j]
  local rid = string.match(rec, ':rec:([^:]*)$')
  local a = abase + (j - 1) * 5
  local now, with_key, top = ARGV[a + 1], ARGV[a + 2] == '1', ARGV[a + 5]
  if ARGV[a + 3] == '0' then
    if with_key then
      local hit = redis.call('GET', memo)
      if hit then
        local value, owner = string.match(hit, '^([^|]*|[^|]*|[^|]*|[^|]*)|?(.*)$')
        if owner ~= '' and owner ~= rid then return {'key_reused', owner} end
        return {'cached', value}
      end
    end
    local hit = redis.call('GET', rec)
    if hit then
      if with_key then redis.call('SET', memo, hit .. '|' .. rid, 'EX', memo_ttl) end
      return {'cached', hit}
    end
  end
  for p = 1, 3 do
    if reached(KEYS[1 + p], pool_caps[p]) then return {'none', 'pool_capped', '0'} end
  end
  if ARGV[a + 4] == '1' then
    local all = redis.call('HGETALL', state)
    for i = 1, #all, 2 do
      if string.sub(all[i], 1, 3) == 'cw:' then redis.call('HSET', state, all[i], 0) end
    end
  end
  if n == 0 then return {'none', 'nobody', '0'} end
  local cand = {}
  local capped = 0
  for i = 1, n do
    local ok = true
    for p = 1, 3 do
      if reached(KEYS[4 + (i - 1) * 3 + p], caps[i][p]) then ok = false end
    end
    if ok then cand[#cand + 1] = i else capped = capped + 1 end
  end
  if #cand == 0 then return {'none', 'nobody', tostring(capped)} end
  local winner
  if top ~= '' then
    for _, i in ipairs(cand) do
      if users[i] == top then winner = i end
    end
    if not winner then return {'none', 'top_unavailable', tostring(capped)} end
  else
    local fields = {}
    for k, i in ipairs(cand) do fields[k] = 'cw:' .. users[i] end
    local cws = redis.call('HMGET', state, unpack(fields))
    local total = 0
    local best, best_cw
    for k, i in ipairs(cand) do
      local cw = tonumber(cws[k] or 0) + weights[i]
      cws[k] = cw
      total = total + weights[i]
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
  for p = 1, 3 do
    if pool_caps[p] > 0 and redis.call('INCR', KEYS[1 + p]) == 1 then
      redis.call('EXPIRE', KEYS[1 + p], ttls[p])
    end
    local key = KEYS[4 + (winner - 1) * 3 + p]
    if caps[winner][p] > 0 and redis.call('INCR', key) == 1 then
      redis.call('EXPIRE', key, ttls[p])
    end
  end
  local value = users[winner] .. '|' .. seq .. '|' .. now .. '|' .. #cand
  redis.call('SET', rec, value, 'EX', memo_ttl)
  if with_key then redis.call('SET', memo, value .. '|' .. rid, 'EX', memo_ttl) end
  local out = {'ok', value}
  local all = redis.call('HGETALL', state)
  for i = 1, #all, 2 do
    if string.sub(all[i], 1, 3) == 'cw:' then
      out[#out + 1] = string.sub(all[i], 4)
      out[#out + 1] = all[i + 1]
    end
  end
  return out
end

local out = {}
for j = 1, (#ARGV - abase) / 5 do out[j] = table.concat(pick(j), '\\t') end
return table.concat(out, '\\n')
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
    record_id: str | None = None  # in Idempotency-Key memos: the record the key was used for

    def encode(self) -> str:
        value = f"{self.assigned_to}|{self.sequence}|{self.timestamp.isoformat()}|{self.pool_size}"
        return f"{value}|{self.record_id}" if self.record_id else value

    @classmethod
    def decode(cls, value: str | bytes) -> Memo:
        text = value.decode() if isinstance(value, bytes) else value
        user, seq, stamp, size, *record = text.split("|")
        return cls(user, int(seq), datetime.fromisoformat(stamp), int(size), *record[:1])


@dataclass(frozen=True)
class PickResult:
    """`status`: ok (a new pick), cached (an earlier one), none (nobody), rebuild (state lost),
    key_reused (the Idempotency-Key was used for another record: `reason` is that record)."""

    status: str
    memo: Memo | None = None
    reason: str | None = None  # for none: empty, nobody, pool_capped, top_unavailable
    capped: int = 0
    weights: dict[str, int] = field(default_factory=dict)  # current weights after the pick


def _cap(value: int | None) -> str:
    return str(value or 0)


def _bulk(value: str) -> bytes:
    """One RESP bulk string (the wire form of a command argument)."""
    data = value.encode()
    return b"$%d\r\n%s\r\n" % (len(data), data)


@dataclass(frozen=True)
class Group:
    """The pool part of a script call, already in wire form.

    It depends only on the pool, the minute and who is available, so it is identical for every
    pick of a pool within a minute while availability holds: encoded once, each pick then adds
    two keys and five short arguments.
    """

    keys: tuple[str, ...]  # state, pool cap counters, member cap counters (3 per member)
    argv: tuple[str, ...]  # memo ttl, pool caps, member count, 5 per member
    wire_keys: bytes
    wire_argv: bytes


@functools.lru_cache(maxsize=1024)
def _group(
    tenant_id: int,
    pool: str,
    pool_caps: tuple[int | None, int | None, int | None],
    pool_periods: Periods,
    candidates: tuple[Candidate, ...],
    memo_ttl: int,
) -> Group:
    keys = [state_key(tenant_id, pool)]
    keys.extend(cap_key(tenant_id, pool, POOL_CAPS, period) for period in pool_periods)
    argv = [str(memo_ttl), *(_cap(c) for c in pool_caps), str(len(candidates))]
    for c in candidates:
        keys.extend(cap_key(tenant_id, pool, c.user_id, period) for period in c.periods)
        argv.extend((c.user_id, str(c.weight), *(_cap(cap) for cap in c.caps)))
    wire_keys = b"".join(map(_bulk, keys))
    wire_argv = b"".join(map(_bulk, argv))
    return Group(tuple(keys), tuple(argv), wire_keys, wire_argv)


def group_of(args: PickArgs) -> Group:
    return _group(
        args.tenant_id, args.pool, args.pool_caps, args.pool_periods, tuple(args.candidates),
        args.memo_ttl,
    )  # fmt: skip


def pick_part(args: PickArgs) -> tuple[list[str], list[str]]:
    """The two keys and five arguments one pick adds to its group's call."""
    t, p = args.tenant_id, args.pool
    keys = [record_key(t, p, args.record_id), key_memo_key(t, p, args.idempotency_key or "")]
    argv = [
        args.now.isoformat(),
        "1" if args.idempotency_key else "0",
        "1" if args.replace else "0",
        "1" if args.reset_counters else "0",
        args.top_user or "",
    ]
    return keys, argv


def script_call(args: PickArgs) -> tuple[list[str], list[str]]:
    """KEYS and ARGV of a one-pick call (see PICK_LUA for the layout)."""
    group = group_of(args)
    keys, argv = pick_part(args)
    return [*group.keys, *keys], [*group.argv, *argv]


# Redis names scripts by SHA-1; this is an identifier, not a security measure.
SHA = hashlib.sha1(PICK_LUA.encode(), usedforsecurity=False).hexdigest()
_EVALSHA = b"$7\r\nEVALSHA\r\n" + _bulk(SHA)


def encode_call(group: Group, batch: Sequence[PickArgs]) -> bytes:
    """One EVALSHA for every pick of `batch` (all of `group`), as bytes for the socket."""
    keys: list[bytes] = []
    argv: list[bytes] = []
    for args in batch:
        k, a = pick_part(args)
        keys.extend(map(_bulk, k))
        argv.extend(map(_bulk, a))
    nkeys = len(group.keys) + 2 * len(batch)
    count = 3 + nkeys + len(group.argv) + 5 * len(batch)
    return b"".join(
        (b"*%d\r\n" % count, _EVALSHA, _bulk(str(nkeys)), group.wire_keys, *keys,
         group.wire_argv, *argv)
    )  # fmt: skip


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


def parse(line: str) -> PickResult:
    """One pick's reply: tab-separated status, memo or reason, then user/current-weight pairs
    (one string per pick: parsing nested RESP arrays cost more than the script itself)."""
    items = line.split("\t")
    status = items[0]
    if status == "rebuild":
        return PickResult("rebuild")
    if status == "none":
        return PickResult("none", reason=items[1], capped=int(items[2]))
    if status == "key_reused":
        return PickResult("key_reused", reason=items[1])
    memo = Memo.decode(items[1])
    weights = {items[i]: int(float(items[i + 1])) for i in range(2, len(items), 2)}
    return PickResult(status, memo=memo, weights=weights)


class Plan:
    """A batch of picks as script calls: one per group (pool and availability), in order of
    first appearance; inside a call the script takes the picks in the order they were queued."""

    def __init__(self, batch: Sequence[PickArgs]) -> None:
        self.size = len(batch)
        groups: dict[Group, list[int]] = {}
        for i, args in enumerate(batch):
            groups.setdefault(group_of(args), []).append(i)
        self.positions = list(groups.values())
        self.commands = [
            encode_call(group, [batch[i] for i in where]) for group, where in groups.items()
        ]

    def results(self, replies: Sequence[Any]) -> list[PickResult | Exception]:
        out: list[PickResult | Exception] = [RuntimeError("no reply")] * self.size
        for where, reply in zip(self.positions, replies, strict=True):
            if isinstance(reply, Exception):
                for i in where:
                    out[i] = reply
                continue
            text = _text(reply)
            if text == "rebuild":
                for i in where:
                    out[i] = PickResult("rebuild")
                continue
            for i, line in zip(where, text.split("\n"), strict=True):
                out[i] = parse(line)
        return out


def missing_script(replies: Sequence[Any]) -> list[int]:
    return [i for i, r in enumerate(replies) if isinstance(r, redis.exceptions.NoScriptError)]


class Rotation:
    """Runs the pick script on a sync client.

    `pick_many` sends a batch in one round trip (the pipeline step). `pick` is coalesced: picks
    from concurrent threads share one round trip (see `pick_batcher.py`), so the endpoint's
    worker threads do not each pay one.
    """

    def __init__(self, client: redis.Redis, max_batch: int = 500) -> None:
        from bridge.routing.pick_batcher import ThreadCoalescer

        self.client = client
        self._coalescer = ThreadCoalescer(self._flush, max_batch=max_batch)

    def pick(self, args: PickArgs) -> PickResult:
        return self._coalescer.submit(args)

    def pick_many(self, batch: Sequence[PickArgs]) -> list[PickResult]:
        if len(batch) == 1:
            return [self.pick(batch[0])]
        results = self._flush(batch)
        for item in results:
            if isinstance(item, Exception):
                raise item
        return results  # type: ignore[return-value]

    def _flush(self, batch: Sequence[PickArgs]) -> list[PickResult | Exception]:
        if not batch:
            return []
        plan = Plan(batch)
        replies = self._send(plan.commands)
        missing = missing_script(replies)
        if missing:  # Redis restarted or SCRIPT FLUSH: load once, redo only those
            self.client.script_load(PICK_LUA)
            again = self._send([plan.commands[i] for i in missing])
            for i, reply in zip(missing, again, strict=True):
                replies[i] = reply
        return plan.results(replies)

    def _send(self, commands: Sequence[bytes]) -> list[Any]:
        # Pre-encoded commands straight onto one pooled connection: redis-py would re-encode
        # every argument of every call (most of a pick's client-side cost).
        pool = self.client.connection_pool
        conn = pool.get_connection()
        try:
            conn.send_packed_command(list(commands))
            replies: list[Any] = []
            for _ in commands:
                try:
                    replies.append(conn.read_response())
                except redis.exceptions.ResponseError as exc:
                    replies.append(exc)
            return replies
        finally:
            pool.release(conn)

    def peek(
        self, tenant_id: int, pool: str, record_id: str, idempotency_key: str | None = None
    ) -> Memo | None:
        """The earlier assignment a pick would replay, read without picking. Raises
        IdempotencyKeyReused when the key memo is another record's, as the pick would: the
        caller refuses before charging or calling Salesforce (the script's own check still
        guards a key taken meanwhile)."""
        names = [record_key(tenant_id, pool, record_id)]
        if idempotency_key:
            names.insert(0, key_memo_key(tenant_id, pool, idempotency_key))
        for value in self.client.mget(names):
            if value is not None:
                memo = Memo.decode(value)
                if memo.record_id not in (None, record_id):
                    raise IdempotencyKeyReused(pool, str(memo.record_id))
                return memo
        return None

    def initialized(self, tenant_id: int, pool: str) -> bool:
        return bool(self.client.hexists(state_key(tenant_id, pool), "init"))

    def sequence(self, tenant_id: int, pool: str) -> int | None:
        value = self.client.hget(state_key(tenant_id, pool), "seq")
        return int(value) if value is not None else None

    def weights(self, tenant_id: int, pool: str) -> dict[str, int]:
        raw = self.client.hgetall(state_key(tenant_id, pool))
        return {_text(k)[3:]: int(float(v)) for k, v in raw.items() if _text(k).startswith("cw:")}

    def forget(self, tenant_id: int, pool: str) -> None:
        """Drop a deleted pool's rotation (a pool re-created later rebuilds from its logs)."""
        self.client.delete(state_key(tenant_id, pool))
