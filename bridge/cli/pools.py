"""`bridge pools`: list round-robin pools, seed them from a file, rebuild a rotation."""

from __future__ import annotations

from pathlib import Path

import click
import redis

from bridge.cli.keys import open_database
from bridge.db import utcnow
from bridge.routing import pools as pool_store
from bridge.routing import rotation
from bridge.routing.pools import PoolCache
from bridge.routing.rebuild import ensure_state
from bridge.routing.seed import InvalidSeedFile, seed_file
from bridge.tenants.service import TenantNotFound, tenant_id_by_name
from config.settings import get_settings


@click.group()
def pools() -> None:
    """Round-robin pools (the API manages them too: /v1/routing/pools)."""


def _tenant(db: object, name: str) -> int:
    try:
        return tenant_id_by_name(db, name)  # type: ignore[arg-type]
    except TenantNotFound:
        raise click.ClickException(f"no tenant {name}") from None


@pools.command("list")
@click.option("--tenant", required=True, help="Tenant name.")
def list_pools(tenant: str) -> None:
    """Show a tenant's pools: members, weights, paused, latest sequence number."""
    client = redis.Redis.from_url(get_settings().redis_url)
    with open_database() as db:
        tenant_id = _tenant(db, tenant)
        with db.session() as session:
            rows = pool_store.list_rows(session, tenant_id)
        for row in rows:
            seq = client.hget(rotation.state_key(tenant_id, row.name), "seq")
            state = "paused" if row.paused else "active"
            click.echo(f"{row.name}\t{state}\tsequence {int(seq or 0)}\t{row.time_zone}")
            for m in row.members:
                click.echo(f"  {m.user_id}\tweight {m.weight_centi / 100:g}")
    client.close()


@pools.command("seed")
@click.option("--file", "path", type=click.Path(path_type=Path), default=None,
              help="Seed file (default BRIDGE_ROUTING_POOLS_FILE).")  # fmt: skip
def seed(path: Path | None) -> None:
    """Create the pools of the seed file that do not exist yet."""
    with open_database() as db:
        try:
            result = seed_file(db, path or get_settings().routing_pools_file)
        except InvalidSeedFile as exc:
            raise click.ClickException(str(exc)) from None
    click.echo(f"created {len(result.created)}, already there {len(result.existing)}")
    for label in result.created:
        click.echo(f"  + {label}")


@pools.command("rebuild")
@click.option("--tenant", required=True, help="Tenant name.")
@click.argument("pool")
def rebuild(tenant: str, pool: str) -> None:
    """Rebuild POOL's rotation in Redis from its route logs (after a Redis loss)."""
    settings = get_settings()
    client = redis.Redis.from_url(settings.redis_url)
    with open_database() as db:
        tenant_id = _tenant(db, tenant)
        found = PoolCache(db).get(tenant_id, pool)
        if found is None:
            raise click.ClickException(f"no pool {pool} for {tenant}")
        client.delete(rotation.state_key(tenant_id, pool))
        summary = ensure_state(db, client, found, utcnow(), settings.routing_replay_days * 86400)
    client.close()
    if summary is not None:
        click.echo(
            f"rebuilt {pool}: sequence {summary.sequence}, {len(summary.weights)} weights, "
            f"{summary.counters} cap counters, {summary.memos} replays"
        )
