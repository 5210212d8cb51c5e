"""`bridge keys`: create, list and revoke API keys. `bridge orgs`: Salesforce orgs of tenants."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import click
from sqlalchemy.exc import SQLAlchemyError

from bridge.db import Database
from bridge.tenants import service
from config.settings import get_settings


@contextmanager
def open_database() -> Iterator[Database]:
    """The configured store; a readable error (not a traceback) when it is not migrated."""
    db = Database.from_settings(get_settings())
    try:
        yield db
    except SQLAlchemyError as exc:
        raise click.ClickException(
            f"database error ({type(exc).__name__}); has `bridge migrate` been run?"
        ) from exc
    finally:
        db.dispose()


@click.group()
def keys() -> None:
    """Manage API keys (shown once at creation, stored only as a SHA-256 hash)."""


@keys.command("create")
@click.option("--tenant", required=True, help="Tenant name (created if new).")
@click.option("--name", default="", help="A label for the key, e.g. the system using it.")
@click.option("--scope", "scopes", multiple=True, help="Limit the key to an area (repeatable).")
@click.option("--origin", "origins", multiple=True, help="Allowed browser Origin (repeatable).")
def create(tenant: str, name: str, scopes: tuple[str, ...], origins: tuple[str, ...]) -> None:
    """Create a key and print it once."""
    with open_database() as db:
        created = service.create_key(db, tenant, name=name, scopes=scopes, allowed_origins=origins)
    click.echo(f"key id:  {created.key_id}")
    click.echo(f"tenant:  {created.tenant_name} (id {created.tenant_id})")
    if created.scopes:
        click.echo(f"scopes:  {', '.join(created.scopes)}")
    if created.allowed_origins:
        click.echo(f"origins: {', '.join(created.allowed_origins)}")
    click.echo("api key (shown once, store it now):", err=True)
    click.echo(created.key)


@keys.command("list")
@click.option("--tenant", default=None, help="Only this tenant's keys.")
def list_(tenant: str | None) -> None:
    """List keys (never their secrets)."""
    with open_database() as db:
        rows = service.list_keys(db, tenant)
    if not rows:
        click.echo("no keys")
        return
    click.echo(f"{'KEY ID':<18} {'TENANT':<20} {'STATUS':<8} {'CREATED':<20} NAME / SCOPES")
    for k in rows:
        status = "active" if k.active else "revoked"
        extra = f" [{', '.join(k.scopes)}]" if k.scopes else ""
        created = k.created_at.strftime("%Y-%m-%d %H:%M:%S")
        click.echo(f"{k.key_id:<18} {k.tenant_name:<20} {status:<8} {created:<20} {k.name}{extra}")


@keys.command("revoke")
@click.argument("key_id")
def revoke(key_id: str) -> None:
    """Revoke a key (web processes stop accepting it within 5 seconds)."""
    with open_database() as db:
        try:
            changed = service.revoke_key(db, key_id)
        except service.KeyNotFound:
            raise click.ClickException(f"no key {key_id}") from None
    click.echo(f"revoked {key_id}" if changed else f"{key_id} was already revoked")


@click.group()
def orgs() -> None:
    """Map Salesforce org ids to tenants (triggers name their org)."""


@orgs.command("add")
@click.option("--tenant", required=True, help="Tenant name (created if new).")
@click.argument("org_id")
def add_org(tenant: str, org_id: str) -> None:
    """Give the Salesforce org ORG_ID (00D...) to a tenant."""
    with open_database() as db:
        try:
            service.add_org(db, tenant, org_id)
        except ValueError as exc:
            raise click.ClickException(str(exc)) from None
    click.echo(f"org {org_id} -> tenant {tenant}")


@orgs.command("list")
@click.option("--tenant", default=None, help="Only this tenant's orgs.")
def list_orgs(tenant: str | None) -> None:
    """List Salesforce orgs and their tenants."""
    with open_database() as db:
        for org_id, name in service.list_orgs(db, tenant):
            click.echo(f"{org_id}  {name}")
