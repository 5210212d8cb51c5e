"""`bridge credits`: grant credits and show balances."""

from __future__ import annotations

import click

from bridge.cli.keys import open_database
from bridge.credits import service
from bridge.tenants.service import TenantNotFound, ensure_tenant, tenant_id_by_name


@click.group()
def credits() -> None:
    """Manage tenant credits (whole numbers)."""


@credits.command("grant")
@click.option("--tenant", required=True, help="Tenant name (created if new).")
@click.argument("amount", type=click.IntRange(min=1))
def grant(tenant: str, amount: int) -> None:
    """Add AMOUNT credits to a tenant's balance."""
    with open_database() as db:
        with db.session() as session:
            tenant_id = ensure_tenant(session, tenant).id
        remaining = service.grant(db, tenant_id, amount, reason="cli grant")
    click.echo(f"granted {amount} credits to {tenant}; remaining {remaining}")


@credits.command("show")
@click.option("--tenant", required=True, help="Tenant name.")
def show(tenant: str) -> None:
    """Show a tenant's remaining and total credits."""
    with open_database() as db:
        try:
            tenant_id = tenant_id_by_name(db, tenant)
        except TenantNotFound:
            raise click.ClickException(f"no tenant {tenant}") from None
        balance = service.balance(db, tenant_id)
    click.echo(
        f"tenant {tenant} (id {tenant_id}): {balance.remaining} remaining of {balance.total}"
    )
