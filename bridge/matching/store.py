"""The persisted match index in Redis, and each process's in-memory copy kept in step with it.

Keys (per tenant):
  bridge:matching:{tenant}:records:{object}   hash: record id -> the record's JSON (index fields)
  bridge:matching:{tenant}:generation         bumped by every full rebuild
  bridge:matching:{tenant}:seq                bumped by every incremental change
  bridge:matching:{tenant}:changes            stream of changes: seq, op, object, ids

A full rebuild writes fresh hashes under temporary names and renames them in one transaction.
An incremental change writes the hash and appends to the stream in one Lua call. A process's
`IndexRegistry.get` replays the stream since its last seq (one round trip when nothing
changed); a new generation or a gap in the seqs (stream trimmed) makes it reload everything.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import redis

from bridge.matching.index import MatchIndex

PREFIX = "bridge:matching:"
OBJECTS = ("account", "contact", "lead", "opportunity")
STREAM_MAXLEN = 100_000
_CHUNK = 1_000

_APPLY = """
local seq = redis.call('INCR', KEYS[2])
local ids = {}
for i = 3, #ARGV, 2 do
  if ARGV[1] == 'upsert' then
    redis.call('HSET', KEYS[1], ARGV[i], ARGV[i + 1])
  else
    redis.call('HDEL', KEYS[1], ARGV[i])
  end
  table.insert(ids, ARGV[i])
end
redis.call('XADD', KEYS[3], 'MAXLEN', '~', ARGV[2], '*', 'seq', seq, 'op', ARGV[1],
           'object', KEYS[4], 'ids', table.concat(ids, ' '))
return seq
"""


def _key(tenant_id: int, *parts: str) -> str:
    return PREFIX + ":".join([str(tenant_id), *parts])


def _record_json(record: Mapping[str, Any]) -> str:
    return json.dumps({k: v for k, v in record.items() if k != "attributes"}, default=str)


class IndexStore:
    def __init__(self, client: redis.Redis) -> None:
        self.redis = client
        self._apply = client.register_script(_APPLY)

    def generation(self, tenant_id: int) -> int | None:
        value = self.redis.get(_key(tenant_id, "generation"))
        return None if value is None else int(value)

    def replace_all(
        self, tenant_id: int, records: Mapping[str, Iterable[Mapping[str, Any]]]
    ) -> int:
        """A full rebuild: every object's records replace what was stored, atomically."""
        total = 0
        temp = {obj: _key(tenant_id, "records", obj, "rebuild") for obj in OBJECTS}
        self.redis.delete(*temp.values())
        for obj in OBJECTS:
            batch: dict[str, str] = {}
            for record in records.get(obj, ()):
                batch[str(record["Id"])] = _record_json(record)
                if len(batch) >= _CHUNK:
                    self.redis.hset(temp[obj], mapping=batch)
                    total += len(batch)
                    batch = {}
            if batch:
                self.redis.hset(temp[obj], mapping=batch)
                total += len(batch)
        with self.redis.pipeline(transaction=True) as pipe:
            for obj in OBJECTS:
                live = _key(tenant_id, "records", obj)
                pipe.delete(live)
                if self.redis.exists(temp[obj]):
                    pipe.rename(temp[obj], live)
            pipe.delete(_key(tenant_id, "changes"))
            pipe.set(_key(tenant_id, "seq"), 0)
            pipe.incr(_key(tenant_id, "generation"))
            pipe.execute()
        return total

    def upsert(self, tenant_id: int, sobject: str, records: Iterable[Mapping[str, Any]]) -> int:
        args: list[str] = []
        for record in records:
            args += [str(record["Id"]), _record_json(record)]
        return self._change(tenant_id, sobject, "upsert", args)

    def remove(self, tenant_id: int, sobject: str, record_ids: Iterable[str]) -> int:
        args: list[str] = []
        for record_id in record_ids:
            args += [record_id, ""]
        return self._change(tenant_id, sobject, "remove", args)

    def _change(self, tenant_id: int, sobject: str, op: str, args: list[str]) -> int:
        obj = sobject.lower()
        if not args or obj not in OBJECTS:
            return 0
        self._apply(
            keys=[_key(tenant_id, "records", obj), _key(tenant_id, "seq"),
                  _key(tenant_id, "changes"), obj],
            args=[op, STREAM_MAXLEN, *args],
        )  # fmt: skip
        return len(args) // 2

    def load(self, tenant_id: int, region: str) -> tuple[int, int, str, MatchIndex] | None:
        """(generation, seq, stream id, index) read from scratch; None when never built."""
        with self.redis.pipeline(transaction=True) as pipe:
            pipe.get(_key(tenant_id, "generation"))
            pipe.get(_key(tenant_id, "seq"))
            pipe.xrevrange(_key(tenant_id, "changes"), count=1)
            generation, seq, last = pipe.execute()
        if generation is None:
            return None
        index = MatchIndex(region)
        for obj in OBJECTS:
            records = []
            for _, raw in self.redis.hscan_iter(_key(tenant_id, "records", obj), count=_CHUNK):
                records.append(json.loads(raw))
            index.upsert(obj, records)
        stream_id = last[0][0].decode() if last else "0-0"
        return int(generation), int(seq or 0), stream_id, index

    def changes_since(
        self, tenant_id: int, stream_id: str
    ) -> tuple[int | None, list[tuple[str, int, str, str, list[str]]]]:
        with self.redis.pipeline(transaction=False) as pipe:
            pipe.get(_key(tenant_id, "generation"))
            pipe.xrange(_key(tenant_id, "changes"), min=f"({stream_id}", max="+")
            generation, entries = pipe.execute()
        changes = []
        for entry_id, fields in entries:
            changes.append((
                entry_id.decode(), int(fields[b"seq"]), fields[b"op"].decode(),
                fields[b"object"].decode(), fields[b"ids"].decode().split(),
            ))  # fmt: skip
        return (None if generation is None else int(generation)), changes

    def records(self, tenant_id: int, sobject: str, record_ids: list[str]) -> list[dict[str, Any]]:
        if not record_ids:
            return []
        raw = self.redis.hmget(_key(tenant_id, "records", sobject), record_ids)
        return [json.loads(r) for r in raw if r]


@dataclass
class _Loaded:
    generation: int
    seq: int
    stream_id: str
    index: MatchIndex


class IndexRegistry:
    """This process's in-memory indexes, one per tenant, synced from the store on each use."""

    def __init__(self, store: IndexStore, region: str = "US") -> None:
        self.store = store
        self.region = region
        self._loaded: dict[int, _Loaded] = {}
        self._lock = threading.Lock()

    def get(self, tenant_id: int) -> MatchIndex | None:
        with self._lock:
            loaded = self._loaded.get(tenant_id)
            if loaded is not None:
                generation, changes = self.store.changes_since(tenant_id, loaded.stream_id)
                if generation == loaded.generation and self._replay(tenant_id, loaded, changes):
                    return loaded.index
            fresh = self.store.load(tenant_id, self.region)
            if fresh is None:
                self._loaded.pop(tenant_id, None)
                return None
            self._loaded[tenant_id] = _Loaded(*fresh)
            return fresh[3]

    def _replay(self, tenant_id: int, loaded: _Loaded, changes: list[Any]) -> bool:
        for entry_id, seq, op, obj, ids in changes:
            if seq <= loaded.seq:
                loaded.stream_id = entry_id
                continue
            if seq != loaded.seq + 1:
                return False  # the stream was trimmed past us: reload
            if op == "upsert":
                found = self.store.records(tenant_id, obj, ids)
                loaded.index.upsert(obj, found)
                gone = set(ids) - {str(r["Id"]) for r in found}
                loaded.index.remove(obj, gone)
            else:
                loaded.index.remove(obj, ids)
            loaded.seq, loaded.stream_id = seq, entry_id
        return True

    def forget(self, tenant_id: int) -> None:
        with self._lock:
            self._loaded.pop(tenant_id, None)
