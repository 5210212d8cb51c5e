"""`bridge keys`: create, list and revoke API keys (owned by the foundation web/auth work)."""

import click


@click.group()
def keys() -> None:
    """Manage API keys."""
