"""`bridge credits`: grant credits and show balances."""

import click


@click.group()
def credits() -> None:
    """Manage tenant credits."""
