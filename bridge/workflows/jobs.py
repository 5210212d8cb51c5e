"""Workflow jobs in Redis: accepted into a stream (one script call per coalesced batch of
triggers), their progress in a hash, due retries in a sorted set.

Keys:
  bridge:workflows:stream          entries `j=<job id>`; a consumer group of workers reads it
  bridge:workflows:job:<id>        hash: tenant, workflow, state, attempts, payload, steps, ...
  bridge:workflows:retry           zset: job id -> when its next attempt is due (unix seconds)
  bridge:workflows:seen:<t>:<key>  Idempotency-Key -> job id (a repeat is answered `cached`)
"""

from __future__ import annotations

import json
import time
import uuid
from dataclasses import dataclass, field
from typing import Any

import redis
import redis.asyncio as aioredis

from bridge.coalesce import Coalescer

STREAM = "bridge:workflows:stream"
GROUP = "workflow-workers"
RETRY = "bridge:workflows:retry"
JOB_PREFIX = "bridge:workflows:job:"
SEEN_PREFIX = "bridge:workflows:seen:"
JOB_TTL_SECONDS = 7 * 24 * 3600

# KEYS: stream, then per job: its hash key and its seen key ('' = none).
# ARGV: ttl, then per job: job id, tenant, workflow, payload json, steps json, request id.
_ACCEPT = """
local out = {}
local a = 2
for i = 2, #KEYS, 2 do
  local job = ARGV[a]
  local seen = KEYS[i + 1]
  local previous = false
  if seen ~= '' then previous = redis.call('GET', seen) end
  if previous then
    out[#out + 1] = previous
  else
    redis.call('HSET', KEYS[i], 'tenant', ARGV[a + 1], 'workflow', ARGV[a + 2],
               'payload', ARGV[a + 3], 'steps', ARGV[a + 4], 'request_id', ARGV[a + 5],
               'state', 'queued', 'attempts', 0, 'accepted_at', ARGV[a + 6])
    redis.call('EXPIRE', KEYS[i], ARGV[1])
    redis.call('XADD', KEYS[1], '*', 'j', job)
    if seen ~= '' then redis.call('SET', seen, job, 'EX', ARGV[1]) end
    out[#out + 1] = 1
  end
  a = a + 7
end
return out
"""


@dataclass(frozen=True)
class NewJob:
    tenant_id: int
    workflow_id: str
    payload: dict[str, Any]
    steps: list[str]
    request_id: str
    dedupe_key: str | None = None
    job_id: str = field(default_factory=lambda: uuid.uuid4().hex)


@dataclass(frozen=True)
class Accepted:
    job_id: str
    duplicate: bool


def job_key(job_id: str) -> str:
    return JOB_PREFIX + job_id


class JobIntake:
    def __init__(self, client: aioredis.Redis, stream: str = STREAM) -> None:
        self._stream = stream
        self._script = client.register_script(_ACCEPT)
        self._coalescer: Coalescer[NewJob, Accepted] = Coalescer(self._flush, max_batch=500)

    async def accept(self, job: NewJob) -> Accepted:
        return await self._coalescer.submit(job)

    async def _flush(self, jobs: list[NewJob]) -> list[Accepted]:
        keys: list[str] = [self._stream]
        args: list[Any] = [JOB_TTL_SECONDS]
        now = str(time.time())
        for job in jobs:
            seen = f"{SEEN_PREFIX}{job.tenant_id}:{job.dedupe_key}" if job.dedupe_key else ""
            keys += [job_key(job.job_id), seen]
            steps = [{"name": s, "status": "pending", "detail": {}} for s in job.steps]
            args += [job.job_id, job.tenant_id, job.workflow_id, json.dumps(job.payload),
                     json.dumps(steps), job.request_id, now]  # fmt: skip
        raw = await self._script(keys=keys, args=args)
        out = []
        for job, value in zip(jobs, raw, strict=True):
            if value == 1:
                out.append(Accepted(job.job_id, duplicate=False))
            else:
                found = value.decode() if isinstance(value, bytes) else str(value)
                out.append(Accepted(found, duplicate=True))
        return out


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


@dataclass
class JobState:
    job_id: str
    tenant_id: int
    workflow_id: str
    state: str
    attempts: int
    payload: dict[str, Any]
    steps: list[dict[str, Any]]
    request_id: str | None
    error: str | None = None
    record_id: str | None = None

    @classmethod
    def from_hash(cls, job_id: str, raw: dict[Any, Any]) -> JobState | None:
        data = {_text(k): _text(v) for k, v in raw.items()}
        if "workflow" not in data:
            return None
        return cls(
            job_id=job_id, tenant_id=int(data["tenant"]), workflow_id=data["workflow"],
            state=data.get("state", "queued"), attempts=int(data.get("attempts", 0)),
            payload=json.loads(data["payload"]), steps=json.loads(data.get("steps", "[]")),
            request_id=data.get("request_id") or None, error=data.get("error") or None,
            record_id=data.get("record_id") or None,
        )  # fmt: skip


async def read_job(client: aioredis.Redis, job_id: str) -> JobState | None:
    return JobState.from_hash(job_id, await client.hgetall(job_key(job_id)))


class JobStore:
    """The worker side: read, claim and update jobs (synchronous Redis)."""

    def __init__(self, client: redis.Redis, stream: str = STREAM) -> None:
        self.redis = client
        self.stream = stream

    def ensure_group(self) -> None:
        try:
            self.redis.xgroup_create(self.stream, GROUP, id="0", mkstream=True)
        except redis.ResponseError as exc:
            if "BUSYGROUP" not in str(exc):
                raise

    def read_new(self, consumer: str, count: int) -> list[tuple[str, str]]:
        """(entry id, job id) of stream entries for this consumer, new and stale ones."""
        self.ensure_group()
        found: list[tuple[str, str]] = []
        # Entries a crashed worker left unacknowledged for a minute come back.
        _, claimed, *_ = self.redis.xautoclaim(self.stream, GROUP, consumer, 60_000, count=count)
        for entry_id, fields in claimed or []:
            if fields:
                found.append((_text(entry_id), _text(fields[b"j"])))
        answer = self.redis.xreadgroup(GROUP, consumer, {self.stream: ">"}, count=count)
        for _, entries in answer or []:
            for entry_id, fields in entries:
                found.append((_text(entry_id), _text(fields[b"j"])))
        return found

    def ack(self, entry_id: str) -> None:
        self.redis.xack(self.stream, GROUP, entry_id)
        self.redis.xdel(self.stream, entry_id)

    def due_retries(self, now: float, count: int) -> list[str]:
        ids = self.redis.zrangebyscore(RETRY, 0, now, start=0, num=count)
        taken = []
        for raw in ids:
            if self.redis.zrem(RETRY, raw):  # only one worker takes it
                taken.append(_text(raw))
        return taken

    def schedule_retry(self, job_id: str, at: float) -> None:
        self.redis.zadd(RETRY, {job_id: at})

    def get(self, job_id: str) -> JobState | None:
        return JobState.from_hash(job_id, self.redis.hgetall(job_key(job_id)))

    def update(self, job_id: str, **fields: Any) -> None:
        values = {k: json.dumps(v) if isinstance(v, list | dict) else ("" if v is None else v)
                  for k, v in fields.items()}  # fmt: skip
        self.redis.hset(job_key(job_id), mapping=values)
