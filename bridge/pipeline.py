"""What happens to one batch of record ids, composed from the domain services.

fetch (one SOQL per batch) -> loop guard -> skip versions already processed -> the object's
configured steps (enrich, match, convert, assign: each issue plugs its step in) -> mark the
versions processed. Callouts, polls and redeliveries all come through here, so processing is
idempotent per record version.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

import redis
import structlog

from bridge.triggers import versions
from bridge.triggers.dispatcher import Batch, BatchItem

log = structlog.get_logger(__name__)

BASE_FIELDS = ("Id", "SystemModstamp", "LastModifiedById", "OwnerId")
PROCESSED_PREFIX = "bridge:pipeline:processed:"


class RecordSource(Protocol):
    def fetch(
        self, sobject: str, record_ids: Sequence[str], fields: Sequence[str]
    ) -> list[dict[str, Any]]: ...


@dataclass
class BatchContext:
    """What a step sees: the batch's live records and who asked for each."""

    tenant_id: int
    object: str
    records: list[dict[str, Any]]
    items: Mapping[str, BatchItem]


class Step(Protocol):
    name: str

    def fields(self, sobject: str) -> set[str]:
        """Salesforce fields this step reads (fetched once for the whole batch)."""
        ...

    def run(self, context: BatchContext) -> None: ...


@dataclass
class BatchResult:
    requested: int = 0
    fetched: int = 0
    skipped_loop_guard: int = 0
    skipped_already_processed: int = 0
    processed: int = 0
    processed_ids: list[str] = field(default_factory=list)


class Pipeline:
    def __init__(
        self,
        source: RecordSource,
        client: redis.Redis,
        *,
        integration_user_id: str | None,
        steps: Mapping[str, Sequence[Step]] | None = None,
    ) -> None:
        self.source = source
        self.redis = client
        self.integration_user_id = integration_user_id
        self.steps = {k: list(v) for k, v in (steps or {}).items()}

    def fields_for(self, sobject: str) -> list[str]:
        wanted = set(BASE_FIELDS)
        for step in self.steps.get(sobject, []):
            wanted |= step.fields(sobject)
        return sorted(wanted, key=lambda f: (f != "Id", f))

    def process(self, batch: Batch) -> BatchResult:
        result = BatchResult(requested=len(batch.items))
        items = {item.id: item for item in batch.items}
        records = self.source.fetch(batch.object, list(items), self.fields_for(batch.object))
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
        fresh = versions.unprocessed(self.redis, batch.tenant_id, live)
        result.skipped_already_processed = len(live) - len(fresh)
        if fresh:
            context = BatchContext(batch.tenant_id, batch.object, fresh, items)
            for step in self.steps.get(batch.object, []):
                step.run(context)
            versions.mark_processed(self.redis, batch.tenant_id, fresh)
            self.redis.incrby(f"{PROCESSED_PREFIX}{batch.tenant_id}:{batch.object}", len(fresh))
        result.processed = len(fresh)
        result.processed_ids = [r["Id"] for r in fresh]
        log.info(
            "pipeline.batch",
            object=batch.object,
            requested=result.requested,
            fetched=result.fetched,
            processed=result.processed,
            loop_guard=result.skipped_loop_guard,
            already_processed=result.skipped_already_processed,
        )
        return result


def processed_count(client: redis.Redis, tenant_id: int, sobject: str) -> int:
    value = client.get(f"{PROCESSED_PREFIX}{tenant_id}:{sobject}")
    return int(value or 0)
