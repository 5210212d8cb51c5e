"""The pipeline's configuration (config/pipeline.yaml): which steps run for which object and
when, where enriched fields are written back and under which policy, and the enrichment
cascade's provider order. Loaded and checked at start-up: unknown steps fail at load, unknown
Salesforce fields fail against the org's describe (`validate_against`).

Steps are found by name in a registry of builders, `"module:function"` strings imported lazily,
so a domain's step (matching, routing, conversion) plugs in by existing: its module exposes
`build_step(options: Mapping[str, Any], deps: StepDeps) -> Step`. A step marked
`optional: true` whose module is not installed yet is skipped with a warning.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, Protocol

import structlog
import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from bridge.enrichment.cascade import CascadeConfig
from bridge.writeback.policy import FieldMapping, Policy

log = structlog.get_logger(__name__)

DEFAULT_PATH = Path(__file__).resolve().parent.parent / "config" / "pipeline.yaml"

# name -> "module:function" building the step. register_step() adds more.
STEP_BUILDERS: dict[str, str | Callable[..., Any]] = {
    "enrich": "bridge.enrichment.step:build_step",
    "match": "bridge.matching.step:build_step",
    "assign": "bridge.pipeline_config:build_assign_step",
    "convert": "bridge.conversion.step:build_step",
}


class PipelineConfigError(ValueError):
    """The configuration file is wrong; the message says where."""


class StepBuilder(Protocol):
    def __call__(self, options: Mapping[str, Any], deps: Any) -> Any: ...


def register_step(name: str, builder: str | StepBuilder) -> None:
    STEP_BUILDERS[name] = builder


# --- conditions -------------------------------------------------------------------------------
Operator = Literal["eq", "ne", "in", "not_in", "empty"]


class Condition(BaseModel):
    """One test on one record field. YAML: `Field: value` (equals), or
    `Field: {in: [...]}` / `{not_in: [...]}` / `{ne: value}` / `{empty: true|false}`."""

    field: str
    op: Operator
    value: Any = None

    def matches(self, record: Mapping[str, Any]) -> bool:
        current = _lookup(record, self.field)
        if self.op == "empty":
            empty = current is None or (isinstance(current, str) and not current.strip())
            return empty is bool(self.value)
        if self.op in ("in", "not_in"):
            inside = any(_equal(current, v) for v in self.value)
            return inside if self.op == "in" else not inside
        equal = _equal(current, self.value)
        return equal if self.op == "eq" else not equal


def _lookup(record: Mapping[str, Any], path: str) -> Any:
    value: Any = record
    for part in path.split("."):  # parent paths: Owner.IsActive
        if not isinstance(value, Mapping):
            return None
        value = next((v for k, v in value.items() if k.lower() == part.lower()), None)
    return value


def _equal(current: Any, expected: Any) -> bool:
    # Picklists and text compare case-insensitively, as SOQL does.
    if isinstance(current, str) and isinstance(expected, str):
        return current.casefold() == expected.casefold()
    return bool(current == expected)


def _conditions(raw: Any) -> list[Condition]:
    if raw is None:
        return []
    if not isinstance(raw, Mapping):
        raise ValueError("`when` maps Salesforce fields to a value or {in|not_in|ne|empty: ...}")
    out = []
    for name, spec in raw.items():
        if isinstance(spec, Mapping):
            if len(spec) != 1:
                raise ValueError(f"when.{name}: one operator per field")
            ((op, value),) = spec.items()
            if op in ("in", "not_in") and not isinstance(value, list):
                raise ValueError(f"when.{name}.{op} needs a list")
            out.append(Condition(field=str(name), op=op, value=value))
        else:
            out.append(Condition(field=str(name), op="eq", value=spec))
    return out


# --- the file ---------------------------------------------------------------------------------
class StepConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str
    when: list[Condition] = Field(default_factory=list)
    options: dict[str, Any] = Field(default_factory=dict)
    optional: bool = False

    @field_validator("when", mode="before")
    @classmethod
    def _when(cls, raw: Any) -> Any:
        if isinstance(raw, list):
            return raw
        return _conditions(raw)

    def applies_to(self, record: Mapping[str, Any]) -> bool:
        return all(c.matches(record) for c in self.when)


class MappingConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    field: str
    policy: Policy = Policy.FILL


class ObjectConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    steps: list[StepConfig] = Field(default_factory=list)
    write_back: dict[str, MappingConfig] = Field(default_factory=dict)

    @field_validator("write_back")
    @classmethod
    def _one_source_per_field(cls, value: dict[str, MappingConfig]) -> dict[str, MappingConfig]:
        seen: dict[str, str] = {}
        for name, mapping in value.items():
            other = seen.setdefault(mapping.field.lower(), name)
            if other != name:
                raise ValueError(f"{other} and {name} both write {mapping.field}")
        return value

    def mappings(self) -> dict[str, FieldMapping]:
        return {n: FieldMapping(n, m.field, m.policy) for n, m in self.write_back.items()}

    def condition_fields(self) -> set[str]:
        return {c.field for step in self.steps for c in step.when}


class EnrichmentSection(BaseModel):
    model_config = ConfigDict(extra="forbid")

    order: list[str] = Field(default_factory=lambda: ["offline", "upstream"])
    field_order: dict[str, list[str]] = Field(default_factory=dict)
    min_confidence: float = Field(0.5, ge=0, le=1)
    field_min_confidence: dict[str, float] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _known_providers(self) -> EnrichmentSection:
        self.cascade()  # raises ValueError naming any unknown provider
        return self

    def cascade(self) -> CascadeConfig:
        return CascadeConfig(
            default_order=tuple(self.order),
            order={k: tuple(v) for k, v in self.field_order.items()},
            min_confidence=self.min_confidence,
            field_min_confidence=dict(self.field_min_confidence),
        )


class PipelineConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    objects: dict[str, ObjectConfig] = Field(default_factory=dict)
    enrichment: EnrichmentSection = Field(default_factory=EnrichmentSection)

    def object(self, sobject: str) -> ObjectConfig:
        return self.objects.get(sobject) or ObjectConfig()

    def validate_against(self, describer: Any, step_fields: Mapping[str, set[str]]) -> None:
        """Every configured Salesforce field must exist in the org (`gateway.validate_fields`
        raises `UnknownFields` naming all of them at once)."""
        for sobject, config in self.objects.items():
            names = config.condition_fields() | {m.field for m in config.write_back.values()}
            names |= step_fields.get(sobject, set())
            if names:
                describer.validate_fields(sobject, sorted(names))


def load(path: Path | None = None) -> PipelineConfig:
    path = path or DEFAULT_PATH
    try:
        raw = yaml.safe_load(path.read_text()) or {}
    except OSError as exc:
        raise PipelineConfigError(f"cannot read {path}: {exc.strerror}") from None
    except yaml.YAMLError as exc:
        raise PipelineConfigError(f"{path} is not valid YAML: {exc}") from None
    try:
        config = PipelineConfig.model_validate(raw)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in exc.errors()
        )
        raise PipelineConfigError(f"{path}: {problems}") from None
    for sobject, obj in config.objects.items():
        for step in obj.steps:
            if step.name not in STEP_BUILDERS:
                raise PipelineConfigError(
                    f"{path}: objects.{sobject}: unknown step {step.name!r} "
                    f"(known: {', '.join(sorted(STEP_BUILDERS))})"
                )
    return config


def resolve_builder(name: str) -> StepBuilder | None:
    """The step's builder, or None when its module is not part of this installation."""
    target = STEP_BUILDERS[name]
    if callable(target):
        return target
    module_name, _, attr = target.partition(":")
    try:
        module = importlib.import_module(module_name)
    except ModuleNotFoundError as exc:
        if exc.name and module_name.startswith(exc.name):
            return None
        raise
    builder = getattr(module, attr, None)
    if builder is None:
        raise PipelineConfigError(f"step {name!r}: {module_name} has no {attr}()")
    return builder  # type: ignore[no-any-return]


def build_assign_step(options: Mapping[str, Any], deps: Any) -> Any:
    """Routing's step (bridge.routing.step.AssignStep): pool from `options.pool`, else from
    BRIDGE_ROUTING_PIPELINE_POOLS; None (skipped) when the object has no pool."""
    from bridge.routing.step import AssignStep, routing_service

    sobject = str(options["object"])
    pool = options.get("pool") or dict(deps.settings.routing_pipeline_pools).get(sobject)
    if not pool:
        return None
    service = deps.shared.get("routing")
    if service is None:
        service = routing_service(deps.db, deps.redis, deps.gateway, deps.settings)
        deps.shared["routing"] = service
    owner = deps.gateway.integration_user_id
    return AssignStep(service, {sobject: str(pool)}, route_owned_by={owner} if owner else None)


@dataclass
class StepDeps:
    """What a step builder may use: settings, the gateway, Redis, SQL, the whole config, and
    `shared` for services several steps reuse (one enrichment service per process, say)."""

    settings: Any  # config.settings.Settings
    gateway: Any  # bridge.salesforce.gateway.SalesforceGateway
    redis: Any  # redis.Redis
    db: Any  # bridge.db.Database | None
    config: PipelineConfig
    shared: dict[str, Any] = field(default_factory=dict)

    def write_back(self, sobject: str) -> dict[str, FieldMapping]:
        return self.config.object(sobject).mappings()


@dataclass(frozen=True)
class BuiltStep:
    config: StepConfig
    step: Any  # bridge.pipeline.Step


def build_steps(config: PipelineConfig, deps: Any) -> dict[str, list[BuiltStep]]:
    built: dict[str, list[BuiltStep]] = {}
    for sobject, obj in config.objects.items():
        for step_config in obj.steps:
            builder = resolve_builder(step_config.name)
            if builder is None:
                if step_config.optional:
                    log.warning("pipeline.step_unavailable", object=sobject, step=step_config.name)
                    continue
                raise PipelineConfigError(
                    f"objects.{sobject}: step {step_config.name!r} is not installed"
                )
            options = {**step_config.options, "object": sobject}
            step = builder(options, deps)
            if step is None:  # installed but not configured for this object
                log.warning("pipeline.step_not_configured", object=sobject, step=step_config.name)
                continue
            built.setdefault(sobject, []).append(BuiltStep(step_config, step))
    return built


def build_pipeline(config: PipelineConfig, deps: StepDeps) -> Any:
    """The configured `bridge.pipeline.Pipeline`, its fields checked against the org."""
    from bridge.pipeline import Pipeline, Stage

    built = build_steps(config, deps)
    stages = {
        sobject: [
            Stage(b.step, b.config.applies_to, frozenset(c.field for c in b.config.when))
            for b in steps
        ]
        for sobject, steps in built.items()
    }
    step_fields = {
        sobject: set().union(*(b.step.fields(sobject) for b in steps))
        for sobject, steps in built.items()
    }
    config.validate_against(deps.gateway, step_fields)
    return Pipeline(
        deps.gateway,
        deps.redis,
        integration_user_id=deps.gateway.integration_user_id,
        steps=stages,
        write_back={sobject: obj.mappings() for sobject, obj in config.objects.items()},
        db=deps.db,
        claim_ttl_seconds=2 * deps.settings.task_time_limit,
    )
