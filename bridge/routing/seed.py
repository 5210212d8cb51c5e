"""The pools seed file (`config/pools.yaml`): pools created at start-up when missing.

    pools:
      - tenant: acme            # tenant name (created if new)
        name: inbound-us
        time_zone: America/New_York
        caps: {day: 400}
        members:
          - {user_id: 005..., weight: 2, caps: {hour: 5}, working_hours: {mon: ["09:00-17:00"]}}

A pool that already exists is left alone: after the first start the API owns it, so an edit
made through PUT /v1/routing/pools/{name} survives a restart.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import structlog
import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from bridge.db import Database
from bridge.routing import pools
from bridge.routing.models import PoolSpec
from bridge.tenants.service import ensure_tenant

log = structlog.get_logger(__name__)


class SeededPool(PoolSpec):
    tenant: str = Field(min_length=1, max_length=200)


class SeedFile(BaseModel):
    model_config = ConfigDict(extra="forbid")

    pools: list[SeededPool] = Field(default_factory=list)


class InvalidSeedFile(ValueError):
    pass


@dataclass(frozen=True)
class SeedResult:
    created: list[str]
    existing: list[str]


def load(path: Path) -> SeedFile:
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        return SeedFile.model_validate(data)
    except (yaml.YAMLError, ValidationError) as exc:
        raise InvalidSeedFile(f"{path}: {exc}") from None


def seed(db: Database, spec: SeedFile) -> SeedResult:
    created, existing = [], []
    with db.session() as session:
        for entry in spec.pools:
            tenant_id = ensure_tenant(session, entry.tenant).id
            label = f"{entry.tenant}/{entry.name}"
            if pools.find(session, tenant_id, entry.name) is not None:
                existing.append(label)
                continue
            pools.create(
                session, tenant_id, PoolSpec.model_validate(entry.model_dump(exclude={"tenant"}))
            )
            created.append(label)
    if created:
        log.info("routing.pools_seeded", created=created)
    return SeedResult(created, existing)


def seed_file(db: Database, path: Path | None) -> SeedResult:
    """Seed from `path`; a missing file seeds nothing."""
    if path is None or not path.exists():
        return SeedResult([], [])
    return seed(db, load(path))
