"""`bridge up`: web, worker, beat (and the sandbox) together on embedded defaults."""

import click


@click.command()
def up() -> None:
    """Run the whole bridge locally."""
    raise click.ClickException("not built yet")
