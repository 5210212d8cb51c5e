"""`bridge logs`: route-log retention per tenant, and an immediate cleanup."""

from __future__ import annotations

import click

from bridge.db import Database
from bridge.db.base import utcnow
from bridge.logs import retention
from bridge.logs.models import MAX_RETENTION_DAYS, MIN_RETENTION_DAYS
from config.logging import configure_logging
from config.settings import get_settings


@click.group()
def logs() -> None:
    """Route-log retention and cleanup."""


def _database() -> Database:
    settings = get_settings()
    configure_logging(settings)
    return Database.from_settings(settings)


@logs.command(name="retention")
@click.option("--tenant", required=True, help="Tenant name.")
@click.argument("days", required=False, type=click.IntRange(MIN_RETENTION_DAYS, MAX_RETENTION_DAYS))
@click.option("--timezone", default=None, help="IANA zone of the tenant's 2 AM cleanup.")
def retention_command(tenant: str, days: int | None, timezone: str | None) -> None:
    """Show the tenant's retention, or set it to DAYS (1..1095)."""
    db = _database()
    try:
        tenant_id = retention.tenant_id_by_name(db, tenant)
        if days is None and timezone is None:
            policy = retention.get_policy(db, tenant_id)
        else:
            current = retention.get_policy(db, tenant_id)
            policy = retention.set_policy(
                db, tenant_id, days or current.retention_days, timezone=timezone
            )
    except retention.TenantNotFound:
        raise click.ClickException(f"no tenant named {tenant!r}") from None
    except ValueError as exc:
        raise click.ClickException(str(exc)) from None
    finally:
        db.dispose()
    last = (
        f"last cleanup {policy.last_cleanup_at:%Y-%m-%d %H:%M} UTC, {policy.last_cleanup_rows} rows"
        if policy.last_cleanup_at
        else "never cleaned"
    )
    click.echo(
        f"{tenant}: route logs kept {policy.retention_days} days; cleanup daily at "
        f"{get_settings().log_cleanup_hour:02d}:00 {policy.timezone}; {last}"
    )


@logs.command(name="cleanup")
@click.option("--tenant", required=True, help="Tenant name.")
def cleanup_command(tenant: str) -> None:
    """Delete the tenant's route logs past retention now (as the daily job would)."""
    db = _database()
    try:
        tenant_id = retention.tenant_id_by_name(db, tenant)
        due = retention.policy_for_now(db, tenant_id)
        result = retention.cleanup(db, due, utcnow(), get_settings().log_cleanup_chunk_rows)
    except retention.TenantNotFound:
        raise click.ClickException(f"no tenant named {tenant!r}") from None
    finally:
        db.dispose()
    click.echo(
        f"{tenant}: deleted {result.rows_deleted} rows older than "
        f"{result.cutoff:%Y-%m-%d %H:%M:%S} UTC in {result.duration_ms} ms"
    )
