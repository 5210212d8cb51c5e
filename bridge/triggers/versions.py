"""Which record versions were already processed, so a version seen twice is processed once.

A record version is its Id plus SystemModstamp. Callouts, polls (with their lookback) and
redelivered batches all funnel through here, which is what makes them idempotent.

Checking "processed" before the steps and marking it after is not enough when two batches
hold the same version at once (a callout batch still running when the poll's lookback reads
the record again, on another worker). So a batch claims its versions first, atomically: a
version already processed, or claimed by another batch, is not its work. The claim names its
claimant (the task id), so a redelivered task takes its own claim back; it expires after
longer than a batch can run, so a claim whose worker died and whose task never comes back
does not block the version for good.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import redis

PREFIX = "bridge:version:"
CLAIM_PREFIX = "bridge:version-claim:"
# Longer than any lookback, dispatcher claim or retry window.
TTL_SECONDS = 7 * 24 * 3600

# Whether the processed mark `marked` covers the version `stamp`: the same version, or a later
# one (SystemModstamps in Salesforce's one fixed format compare as strings). The mark only
# moves forward, so a batch finishing late cannot put an older stamp back over a newer one
# (which would have the next lookback process the newer version again).
_COVERS = """
local function covers(marked, stamp)
  if not marked then return false end
  if marked == stamp then return true end
  return string.match(marked, '^%d') ~= nil and string.match(stamp, '^%d') ~= nil
    and marked > stamp
end
"""

# KEYS: per version its processed key then its claim key. ARGV: claimant, claim TTL (ms),
# force ("1": ignore the processed mark and other claims), then the versions' stamps.
# Returns per version 0 claimed by this claimant, 1 already processed, 2 claimed by another.
_CLAIM = (
    _COVERS
    + """
local claimant, ttl, force = ARGV[1], ARGV[2], ARGV[3] == '1'
local out = {}
for i = 4, #ARGV do
  local done_key, claim_key = KEYS[2 * (i - 3) - 1], KEYS[2 * (i - 3)]
  local holder = redis.call('GET', claim_key)
  if not force and covers(redis.call('GET', done_key), ARGV[i]) then
    out[#out + 1] = 1
  elseif not force and holder and holder ~= claimant then
    out[#out + 1] = 2
  else
    redis.call('SET', claim_key, claimant, 'PX', ttl)
    out[#out + 1] = 0
  end
end
return out
"""
)

# KEYS: a counter of versions processed, the processed keys of the versions done, then the
# claim keys of all versions to let go. ARGV: claimant, processed TTL (s), number done, stamps.
_FINISH = (
    _COVERS
    + """
local claimant, ttl, done = ARGV[1], ARGV[2], tonumber(ARGV[3])
for i = 1, done do
  local marked = redis.call('GET', KEYS[1 + i])
  if marked == ARGV[3 + i] or not covers(marked, ARGV[3 + i]) then
    redis.call('SET', KEYS[1 + i], ARGV[3 + i], 'EX', ttl)
  end
end
for i = done + 2, #KEYS do
  if redis.call('GET', KEYS[i]) == claimant then
    redis.call('DEL', KEYS[i])
  end
end
if done > 0 then
  redis.call('INCRBY', KEYS[1], done)
end
return done
"""
)


# KEYS: the versions' processed keys. ARGV: their stamps. Returns the 1-based positions of
# the versions not covered by their mark (the same rule as claiming).
_UNPROCESSED = (
    _COVERS
    + """
local out = {}
for i = 1, #KEYS do
  if not covers(redis.call('GET', KEYS[i]), ARGV[i]) then out[#out + 1] = i end
end
return out
"""
)


def _key(tenant_id: int, record_id: str) -> str:
    return f"{PREFIX}{tenant_id}:{record_id}"


def _stamp(record: Mapping[str, Any]) -> str:
    return str(record.get("SystemModstamp"))


def _claim_key(tenant_id: int, record: Mapping[str, Any]) -> str:
    return f"{CLAIM_PREFIX}{tenant_id}:{record['Id']}:{_stamp(record)}"


def unprocessed(
    client: redis.Redis, tenant_id: int, records: list[Mapping[str, Any]]
) -> list[Mapping[str, Any]]:
    """The records whose current version has not been processed yet, by the rule claiming
    uses: a mark at this version or a later one covers it (one round trip)."""
    if not records:
        return []
    keys = [_key(tenant_id, r["Id"]) for r in records]
    positions = client.register_script(_UNPROCESSED)(keys=keys, args=[_stamp(r) for r in records])
    return [records[int(i) - 1] for i in positions]


@dataclass
class Claim:
    """What one claim call found: the versions this batch now holds, and the rest."""

    mine: list[Mapping[str, Any]] = field(default_factory=list)
    processed: list[Mapping[str, Any]] = field(default_factory=list)
    in_flight: list[Mapping[str, Any]] = field(default_factory=list)


def claim(
    client: redis.Redis,
    tenant_id: int,
    records: Sequence[Mapping[str, Any]],
    *,
    claimant: str,
    ttl_seconds: int,
    force: bool = False,
) -> Claim:
    """Claim the versions of `records` not yet processed and not held by another claimant
    (one round trip). `force` (a dead letter's replay) claims every version regardless."""
    found = Claim()
    if not records:
        return found
    keys = [k for r in records for k in (_key(tenant_id, r["Id"]), _claim_key(tenant_id, r))]
    args = [claimant, ttl_seconds * 1000, "1" if force else "0", *(_stamp(r) for r in records)]
    statuses = client.register_script(_CLAIM)(keys=keys, args=args)
    for record, status in zip(records, statuses, strict=True):
        (found.mine, found.processed, found.in_flight)[int(status)].append(record)
    return found


def finish(
    client: redis.Redis,
    tenant_id: int,
    *,
    claimant: str,
    done: Sequence[Mapping[str, Any]],
    release: Sequence[Mapping[str, Any]] = (),
    count_key: str,
) -> None:
    """Mark `done` processed (and add them to the counter at `count_key`), and let go of this
    claimant's claims on `done` and `release` (versions to be tried again: a retry or another
    batch may take them), in one round trip."""
    held = [*done, *release]
    if not held:
        return
    keys = [
        count_key,
        *(_key(tenant_id, r["Id"]) for r in done),
        *(_claim_key(tenant_id, r) for r in held),
    ]
    args = [claimant, TTL_SECONDS, len(done), *(_stamp(r) for r in done)]
    client.register_script(_FINISH)(keys=keys, args=args)
