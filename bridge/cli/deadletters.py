"""`bridge dead-letters`: list and replay tasks that exhausted their retries."""

import click


@click.group(name="dead-letters")
def dead_letters() -> None:
    """Inspect and replay dead letters."""
