"""Pools in SQL on SQLite and PostgreSQL (migration 0004): create, replace, delete, the
rotation's view of a pool, and the seed file."""

from __future__ import annotations

import zoneinfo
from datetime import UTC, datetime
from pathlib import Path

import pytest

from bridge.db import Database
from bridge.routing import pools
from bridge.routing.models import PoolDefinition, PoolSpec
from bridge.routing.pools import PoolCache, PoolExists
from bridge.routing.seed import InvalidSeedFile, load, seed_file
from bridge.routing.tables import RoutingMember
from tests.integration.test_routing_fixtures import make_tenant, user

A, B = user(1), user(2)


@pytest.fixture
def sql(any_database_url: str) -> Database:
    db = Database(any_database_url)
    yield db
    db.dispose()


def test_create_replace_delete(sql: Database) -> None:
    tenant = make_tenant(sql)
    spec = PoolSpec.model_validate({
        "name": "east", "time_zone": "America/New_York", "caps": {"day": 50},
        "members": [
            {"user_id": A, "weight": "2.5", "caps": {"hour": 3},
             "working_hours": {"mon": ["09:00-17:00"]},
             "out_of_office": [{"start": "2026-12-24T00:00:00Z", "end": "2027-01-02T00:00:00Z"}]},
            {"user_id": B, "time_zone": "Europe/London"},
        ],
    })  # fmt: skip
    with sql.session() as session:
        pools.create(session, tenant, spec)
    with sql.session() as session, pytest.raises(PoolExists):
        pools.create(session, tenant, spec)
    pool = PoolCache(sql).require(tenant, "east")
    a, b = pool.members
    assert (a.user_id, a.weight, a.caps) == (A, 250, (3, None, None))
    assert a.zone == zoneinfo.ZoneInfo("America/New_York") and a.schedule == {0: ((540, 1020),)}
    assert a.out_of_office == (
        (datetime(2026, 12, 24, tzinfo=UTC), datetime(2027, 1, 2, tzinfo=UTC)),
    )
    assert b.zone == zoneinfo.ZoneInfo("Europe/London") and pool.caps == (None, 50, None)
    with sql.session() as session:
        assert pools.to_spec(pools.find(session, tenant, "east")) == spec
    # Replace: order and members change, the pool keeps its id.
    update = PoolDefinition.model_validate({"members": [{"user_id": B}, {"user_id": A}],
                                            "paused": True})  # fmt: skip
    with sql.session() as session:
        row, created = pools.replace(session, tenant, "east", update)
        assert not created and row.id == pool.id
    again = PoolCache(sql).require(tenant, "east")
    assert [m.user_id for m in again.members] == [B, A] and again.paused
    with sql.session() as session:
        assert pools.delete(session, tenant, "east")
    with sql.session() as session:
        assert session.query(RoutingMember).count() == 0  # members go with their pool
        assert not pools.delete(session, tenant, "east")


def test_seed_file(sql: Database, tmp_path: Path) -> None:
    path = tmp_path / "pools.yaml"
    path.write_text(
        "pools:\n"
        f"  - {{tenant: acme, name: one, members: [{{user_id: {A}, weight: 3}}]}}\n"
        "  - {tenant: globex, name: two, paused: true}\n"
    )
    result = seed_file(sql, path)
    assert result.created == ["acme/one", "globex/two"] and result.existing == []
    assert seed_file(sql, path).existing == ["acme/one", "globex/two"]
    assert seed_file(sql, tmp_path / "missing.yaml").created == []
    assert seed_file(sql, Path("config/pools.yaml")).created == []  # the shipped file is empty
    path.write_text("pools:\n  - {tenant: acme, name: bad, members: [{user_id: nope}]}\n")
    with pytest.raises(InvalidSeedFile):
        load(path)
