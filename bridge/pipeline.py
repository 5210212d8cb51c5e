"""What happens to one batch of record ids, composed from the domain services.

echo guard -> fetch (one SOQL per batch) -> loop guard -> claim the versions not yet processed
(skipping those already processed or held by another running batch) ->
the object's configured steps, each only for the records its conditions select (enrich,
match, convert, assign: each issue plugs its step in) -> write back only the fields that
really change (one sObject Collections call per 200) -> route logs / dead letters -> mark the
versions processed and release the claims. Callouts, polls and redeliveries all come through
here, so processing is idempotent per record version, also when two batches hold it at once.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

import redis
import structlog

from bridge.db import Database
from bridge.metrics import counters
from bridge.salesforce.errors import TransientError
from bridge.triggers import versions
from bridge.triggers.dispatcher import Batch, BatchItem
from bridge.writeback.changes import Proposal, Proposals, RecordChange, plan
from bridge.writeback.outcomes import Failure, Origin, record_outcomes
from bridge.writeback.policy import FieldMapping
from bridge.writeback.writer import RecordWriter, write

log = structlog.get_logger(__name__)

BASE_FIELDS = ("Id", "SystemModstamp", "LastModifiedById", "OwnerId")
PROCESSED_PREFIX = "bridge:pipeline:processed:"
# Our own write fires the org's after_update callout; the first one per written record within
# this window is dropped before any fetch. (A human edit it might mask is still seen: the poll
# reads it, and the loop guard lets it through because its last modifier is not the bridge.)
ECHO_PREFIX = "bridge:pipeline:echo:"
ECHO_TTL_SECONDS = 300
# A batch's claim on its versions must outlive the batch: a task is killed at the hard time
# limit, so twice that (the default limit is 900 s; `build_pipeline` passes the configured
# one); a claim left by a dead worker expires after it.
CLAIM_TTL_SECONDS = 2 * 900


class RecordSource(Protocol):
    def fetch(
        self, sobject: str, record_ids: Sequence[str], fields: Sequence[str]
    ) -> list[dict[str, Any]]: ...


@dataclass
class BatchContext:
    """What a step sees: the live records it applies to, who asked for each, and where to put
    what it wants written (`propose`) or what went wrong with one record (`fail`)."""

    tenant_id: int
    object: str
    records: list[dict[str, Any]]
    items: Mapping[str, BatchItem]
    proposals: Proposals = field(default_factory=Proposals)
    # Facts a step learnt that a later step may use (e.g. enrichment results by record id).
    facts: dict[str, dict[str, Any]] = field(default_factory=dict)
    failures: dict[str, str] = field(default_factory=dict)

    def propose(
        self,
        record_id: str,
        name: str,
        value: Any,
        *,
        provider: str,
        confidence: float | None = None,
        action: str = "enrich",
    ) -> None:
        self.proposals.add(record_id, Proposal(name, value, provider, confidence, action))

    def fail(self, record_id: str, error: str) -> None:
        self.failures[record_id] = error

    def narrowed(self, records: list[dict[str, Any]]) -> BatchContext:
        """The same batch state, seen through a subset of its records."""
        return BatchContext(self.tenant_id, self.object, records, self.items, self.proposals,
                            self.facts, self.failures)  # fmt: skip


class Step(Protocol):
    name: str

    def fields(self, sobject: str) -> set[str]:
        """Salesforce fields this step reads (fetched once for the whole batch)."""
        ...

    def run(self, context: BatchContext) -> None: ...


@dataclass
class Stage:
    """A step with the condition that selects its records (all of them by default)."""

    step: Step
    applies: Callable[[Mapping[str, Any]], bool] = lambda record: True
    condition_fields: frozenset[str] = frozenset()


class WriteBackPending(TransientError):
    """Some records were refused on a row lock past the gateway's retries: retry the batch."""


@dataclass
class BatchResult:
    requested: int = 0
    fetched: int = 0
    skipped_echo: int = 0
    skipped_loop_guard: int = 0
    skipped_already_processed: int = 0
    skipped_in_flight: int = 0  # held by another running batch, which processes them
    processed: int = 0
    processed_ids: list[str] = field(default_factory=list)
    written: int = 0
    unchanged: int = 0
    failed: int = 0
    pending: int = 0


class Pipeline:
    def __init__(
        self,
        source: RecordSource,
        client: redis.Redis,
        *,
        integration_user_id: str | None,
        steps: Mapping[str, Sequence[Step | Stage]] | None = None,
        write_back: Mapping[str, Mapping[str, FieldMapping]] | None = None,
        writer: RecordWriter | None = None,
        db: Database | None = None,
        claim_ttl_seconds: int = CLAIM_TTL_SECONDS,
    ) -> None:
        self.source = source
        self.redis = client
        self.integration_user_id = integration_user_id
        self.stages = {
            k: [s if isinstance(s, Stage) else Stage(s) for s in v]
            for k, v in (steps or {}).items()
        }
        self.write_back = {k: dict(v) for k, v in (write_back or {}).items()}
        self.writer = writer if writer is not None else _writer_of(source)
        self.db = db
        self.claim_ttl_seconds = claim_ttl_seconds

    @property
    def steps(self) -> dict[str, list[Step]]:
        return {k: [s.step for s in v] for k, v in self.stages.items()}

    def fields_for(self, sobject: str) -> list[str]:
        wanted = set(BASE_FIELDS)
        for stage in self.stages.get(sobject, []):
            wanted |= stage.step.fields(sobject) | stage.condition_fields
        wanted |= {m.field for m in self.write_back.get(sobject, {}).values()}
        return sorted(wanted, key=lambda f: (f != "Id", f))

    # -- one batch ---------------------------------------------------------------------------
    def process(
        self,
        batch: Batch,
        *,
        force: bool = False,
        final_attempt: bool = False,
        claimant: str | None = None,
    ) -> BatchResult:
        """`force`: skip the processed-version check and others' claims (a dead letter's
        replay). `final_attempt`: records still locked are recorded as failed instead of asking
        for a retry. `claimant`: who claims the batch's versions, the same on every delivery
        of one task (its task id); by default a digest of the batch, which a redelivery of the
        same message repeats."""
        result = BatchResult(requested=len(batch.items))
        items = {item.id: item for item in batch.items}
        wanted_ids = self._drop_echoes(batch, items, result) if not force else list(items)
        records = (
            self.source.fetch(batch.object, wanted_ids, self.fields_for(batch.object))
            if wanted_ids
            else []
        )
        result.fetched = len(records)
        live = []
        for record in records:
            if self.integration_user_id and record.get("LastModifiedById") == (
                self.integration_user_id
            ):
                # The bridge's own write-back fired the customer's trigger: not new work.
                result.skipped_loop_guard += 1
            else:
                live.append(record)
        claimant = claimant or _digest(batch)
        claim = versions.claim(self.redis, batch.tenant_id, live, claimant=claimant,
                               ttl_seconds=self.claim_ttl_seconds, force=force)  # fmt: skip
        result.skipped_already_processed = len(claim.processed)
        result.skipped_in_flight = len(claim.in_flight)
        if claim.mine:
            count_key = _count_key(batch.tenant_id, batch.object)
            try:
                done = self._run(batch, claim.mine, items, result, final_attempt)
            except BaseException:
                # Let go of every claim so the versions can be taken again.
                try:
                    versions.finish(self.redis, batch.tenant_id, claimant=claimant, done=[],
                                    release=claim.mine, count_key=count_key)  # fmt: skip
                except redis.RedisError as exc:  # the claims expire; the run's error matters more
                    log.warning("pipeline.claims_not_released", error=type(exc).__name__)
                raise
            # Mark the done versions processed and release the rest (still pending) for a retry.
            done_ids = {r["Id"] for r in done}
            versions.finish(
                self.redis, batch.tenant_id, claimant=claimant, done=done,
                release=[r for r in claim.mine if r["Id"] not in done_ids], count_key=count_key,
            )  # fmt: skip
            result.processed = len(done)
            result.processed_ids = [r["Id"] for r in done]
        log.info(
            "pipeline.batch",
            object=batch.object,
            requested=result.requested,
            fetched=result.fetched,
            processed=result.processed,
            written=result.written,
            unchanged=result.unchanged,
            failed=result.failed,
            pending=result.pending,
            echo=result.skipped_echo,
            loop_guard=result.skipped_loop_guard,
            already_processed=result.skipped_already_processed,
            in_flight=result.skipped_in_flight,
        )
        counters.batch_processed(
            batch.object, result.requested, processed=result.processed, failed=result.failed,
            skipped_echo=result.skipped_echo, skipped_loop_guard=result.skipped_loop_guard,
            skipped_already_processed=result.skipped_already_processed,
            skipped_in_flight=result.skipped_in_flight,
        )  # fmt: skip
        if result.pending:
            raise WriteBackPending(
                f"{result.pending} record(s) locked; batch retried later", operation="update"
            )
        return result

    def _run(
        self,
        batch: Batch,
        fresh: list[Mapping[str, Any]],
        items: Mapping[str, BatchItem],
        result: BatchResult,
        final_attempt: bool,
    ) -> list[Mapping[str, Any]]:
        """Steps, then write-back; returns the records whose version is now processed."""
        records = [dict(r) for r in fresh]
        context = BatchContext(batch.tenant_id, batch.object, records, items)
        for stage in self.stages.get(batch.object, []):
            selected = [r for r in records if r["Id"] not in context.failures and stage.applies(r)]
            if selected:
                with counters.step(batch.object, stage.step.name):
                    stage.step.run(context.narrowed(selected))
        healthy = [r for r in records if r["Id"] not in context.failures]
        changes = plan(healthy, context.proposals, self.write_back.get(batch.object, {}))
        failed = [Failure(rid, error) for rid, error in context.failures.items()]
        pending_ids: set[str] = set()
        written: list[RecordChange] = []
        if changes:
            if self.writer is None:
                raise RuntimeError("this pipeline has write-back changes but no writer")
            outcome = write(self.writer, batch.object, changes)
            written = outcome.written
            failed += [Failure(c.record_id, e, c.diffs) for c, e in outcome.permanent]
            for change, error in outcome.transient:
                if final_attempt:
                    failed.append(Failure(change.record_id, error, change.diffs))
                else:
                    pending_ids.add(change.record_id)
            self._remember_echoes(batch.tenant_id, [c.record_id for c in written])
        if self.db is not None:
            record_outcomes(
                self.db, tenant_id=batch.tenant_id, sobject=batch.object, written=written,
                failed=failed, origins=_origins(items),
            )  # fmt: skip
        elif written or failed:
            log.warning("pipeline.outcomes_not_recorded", reason="no database")
        result.written = len(written)
        result.failed = len(failed)
        result.pending = len(pending_ids)
        result.unchanged = len(healthy) - len(changes)
        return [r for r in fresh if r["Id"] not in pending_ids]

    # -- echoes of our own writes ------------------------------------------------------------
    def _drop_echoes(
        self, batch: Batch, items: Mapping[str, BatchItem], result: BatchResult
    ) -> list[str]:
        updates = [i for i, item in items.items() if item.event == "after_update"]
        if not updates:
            return list(items)
        with self.redis.pipeline(transaction=False) as pipe:
            for record_id in updates:
                pipe.getdel(f"{ECHO_PREFIX}{batch.tenant_id}:{record_id}")
            echoes = {rid for rid, hit in zip(updates, pipe.execute(), strict=True) if hit}
        result.skipped_echo = len(echoes)
        return [i for i in items if i not in echoes]

    def _remember_echoes(self, tenant_id: int, record_ids: Sequence[str]) -> None:
        if not record_ids:
            return
        with self.redis.pipeline(transaction=False) as pipe:
            for record_id in record_ids:
                pipe.set(f"{ECHO_PREFIX}{tenant_id}:{record_id}", 1, ex=ECHO_TTL_SECONDS)
            pipe.execute()


def _digest(batch: Batch) -> str:
    """A batch's identity by content: a redelivered message carries the same payload."""
    payload = json.dumps(batch.payload(), sort_keys=True, separators=(",", ":"))
    return "batch:" + hashlib.sha256(payload.encode()).hexdigest()[:32]


def _writer_of(source: RecordSource) -> RecordWriter | None:
    return source if hasattr(source, "update") else None  # type: ignore[return-value]


def _origins(items: Mapping[str, BatchItem]) -> dict[str, Origin]:
    return {
        rid: Origin(
            request_id=item.request_id or None,
            reason=f"{item.source}:{item.event}" if item.event else item.source,
            item=(item.id, item.request_id, item.source, item.event),
        )
        for rid, item in items.items()
    }


def _count_key(tenant_id: int, sobject: str) -> str:
    return f"{PROCESSED_PREFIX}{tenant_id}:{sobject}"


def processed_count(client: redis.Redis, tenant_id: int, sobject: str) -> int:
    value = client.get(_count_key(tenant_id, sobject))
    return int(value or 0)
