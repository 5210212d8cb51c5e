"""`bridge webhooks`: Standard Webhooks signing secrets of tenants (rotation: add, then revoke)."""

from __future__ import annotations

import click

from bridge.cli.keys import open_database
from bridge.triggers import secrets


@click.group()
def webhooks() -> None:
    """Manage webhook signing secrets."""


@webhooks.group("secret")
def secret() -> None:
    """Signing secrets: while a tenant has one, its callouts must be signed."""


@secret.command("create")
@click.option("--tenant", required=True, help="Tenant name (created if new).")
def create(tenant: str) -> None:
    """Create a secret and print it once (put it in the org's Named Credential)."""
    with open_database() as db:
        secret_id, value = secrets.create(db, tenant)
    click.echo(f"secret id {secret_id} for tenant {tenant} (shown once, store it now):")
    click.echo(value)


@secret.command("list")
@click.option("--tenant", default=None, help="Only this tenant's secrets.")
def list_(tenant: str | None) -> None:
    """List secrets (never their values)."""
    with open_database() as db:
        rows = secrets.list_all(db, tenant)
    for row in rows:
        state = f"revoked {row.revoked_at:%Y-%m-%d %H:%M}" if row.revoked_at else "active"
        click.echo(f"{row.id}\ttenant={row.tenant_id}\t{row.hint}\t{state}")


@secret.command("revoke")
@click.argument("secret_id", type=int)
def revoke(secret_id: int) -> None:
    """Revoke a secret (takes effect within 5 s in every web process)."""
    with open_database() as db:
        if not secrets.revoke(db, secret_id):
            raise click.ClickException(f"no active secret {secret_id}")
    click.echo(f"revoked secret {secret_id}")
