"""`bridge pools`: seed from a file, list, and rebuild a rotation from its route logs."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import redis
from click.testing import CliRunner

from bridge.cli import main
from bridge.db import Database
from bridge.routing import rotation
from bridge.tenants.service import tenant_id_by_name
from config.settings import get_settings
from tests.integration.test_routing_fixtures import lead, service, user


@pytest.fixture
def cli(database_url: str, redis_url: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[CliRunner]:
    monkeypatch.setenv("DATABASE_URL", database_url)
    monkeypatch.setenv("REDIS_URL", redis_url)
    get_settings.cache_clear()
    yield CliRunner()
    get_settings.cache_clear()


def test_seed_list_rebuild(cli: CliRunner, database_url: str, redis_url: str,
                           tmp_path: Path) -> None:  # fmt: skip
    path = tmp_path / "pools.yaml"
    path.write_text(f"pools:\n  - {{tenant: acme, name: inbound, members: "
                    f"[{{user_id: {user(1)}, weight: 2}}, {{user_id: {user(2)}}}]}}\n")  # fmt: skip
    seeded = cli.invoke(main, ["pools", "seed", "--file", str(path)])
    assert seeded.exit_code == 0 and "created 1" in seeded.output, seeded.output
    db = Database(database_url)
    client = redis.Redis.from_url(redis_url)
    svc = service(db, client)
    tenant = tenant_id_by_name(db, "acme")
    for n in range(5):
        pick = svc.pick(tenant, "inbound", lead(n))
        with db.session() as session:
            svc.record(session, tenant, "Lead", pick, prev_owner=None)
    weights = svc.rotation.weights(tenant, "inbound")
    listed = cli.invoke(main, ["pools", "list", "--tenant", "acme"])
    assert "inbound\tactive\tsequence 5" in listed.output and "weight 2" in listed.output
    client.delete(rotation.state_key(tenant, "inbound"))
    rebuilt = cli.invoke(main, ["pools", "rebuild", "--tenant", "acme", "inbound"])
    assert rebuilt.exit_code == 0 and "sequence 5" in rebuilt.output, rebuilt.output
    assert svc.rotation.weights(tenant, "inbound") == weights
    assert cli.invoke(main, ["pools", "list", "--tenant", "nobody"]).exit_code != 0
    client.close()
    db.dispose()
