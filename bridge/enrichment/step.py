"""The pipeline's `enrich` step: each selected record through the cascade; every found value
is proposed for write-back with its provider and confidence.

Only fields the object's write-back mapping will accept are asked for (a fill-only field that
already holds a value is not looked up: no credits spent on it). The record's own data is the
subject (`inputs`: subject fact -> Salesforce field).

Options (config/pipeline.yaml): `kind` (person|company), `inputs`, `budget` (upstream credits
per record; default BRIDGE_ENRICH_UPSTREAM_MAX_CREDITS), `status` (a value proposed as
`enrichment_status` when something was found, e.g. "Enriched").
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import redis
import structlog

from bridge.enrichment.results import SUBJECT_FACTS, Kind, Subject
from bridge.enrichment.service import EnrichmentService
from bridge.writeback.policy import FieldMapping, Policy, is_empty

log = structlog.get_logger(__name__)

STATUS_FIELD = "enrichment_status"


class EnrichStep:
    name = "enrich"

    def __init__(
        self,
        service: EnrichmentService,
        *,
        kind: Kind,
        inputs: Mapping[str, str],
        write_back: Mapping[str, FieldMapping],
        budget: int,
        status: str | None = None,
    ) -> None:
        unknown = set(inputs) - set(SUBJECT_FACTS)
        if unknown:
            raise ValueError(f"enrich inputs: unknown facts {sorted(unknown)}")
        self.service = service
        self.kind = kind
        self.inputs = dict(inputs)
        self.write_back = dict(write_back)
        self.budget = budget
        self.status = status

    def fields(self, sobject: str) -> set[str]:
        return set(self.inputs.values())

    def wanted(self, record: Mapping[str, Any]) -> list[str]:
        out = []
        for name, mapping in self.write_back.items():
            if name == STATUS_FIELD or mapping.policy is Policy.NEVER:
                continue
            if mapping.policy is Policy.FILL and not is_empty(record.get(mapping.field)):
                continue
            out.append(name)
        return out

    def run(self, context: Any) -> None:
        scope = f"sf:{context.object}"
        for record in context.records:
            record_id = record["Id"]
            wanted = self.wanted(record)
            if not wanted:
                continue
            facts = {fact: record.get(field) for fact, field in self.inputs.items()}
            try:
                subject = Subject.of(self.kind, record_id, facts)
                result = self.service.enrich(
                    context.tenant_id, scope, subject, wanted, budget=self.budget
                )
            except (redis.RedisError, OSError):
                raise  # infrastructure: the whole batch is retried
            except Exception as exc:  # one record's bad data must not sink the batch
                log.warning("enrich.record_failed", record_id=record_id, error=type(exc).__name__)
                context.fail(record_id, f"enrichment failed: {type(exc).__name__}")
                continue
            context.facts.setdefault(record_id, {})["enrichment"] = result
            for name, value in result.values.items():
                context.propose(record_id, name, value.value, provider=value.provider,
                                confidence=value.confidence)  # fmt: skip
            if self.status and result.values:
                context.propose(record_id, STATUS_FIELD, self.status, provider="bridge")


def build_step(options: Mapping[str, Any], deps: Any) -> EnrichStep:
    """The registry's builder (bridge.pipeline_config): one service per process, shared."""
    service = deps.shared.get("enrichment")
    if service is None:
        service = EnrichmentService.from_settings(
            deps.settings, deps.redis, deps.config.enrichment.cascade()
        )
        deps.shared["enrichment"] = service
    sobject = str(options["object"])
    return EnrichStep(
        service,
        kind=options.get("kind", "company" if sobject == "Account" else "person"),
        inputs=options.get("inputs", {}),
        write_back=deps.write_back(sobject),
        budget=int(options.get("budget", deps.settings.enrich_upstream_max_credits)),
        status=options.get("status"),
    )
