"""The `bridge` command. Each command group lives in its own module of this package."""

from __future__ import annotations

import click

from bridge.cli.agents import agents
from bridge.cli.credits import credits
from bridge.cli.deadletters import dead_letters
from bridge.cli.dispatcher import dispatcher
from bridge.cli.keys import keys, orgs
from bridge.cli.logs import logs
from bridge.cli.match import match
from bridge.cli.pools import pools
from bridge.cli.serve import beat, migrate, web, worker
from bridge.cli.up import up
from bridge.cli.webhooks import webhooks


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
def main() -> None:
    """The bridge: a self-hosted Salesforce integration service."""


@main.command(
    context_settings={"ignore_unknown_options": True, "allow_interspersed_args": False},
    add_help_option=False,
)
@click.argument("args", nargs=-1, type=click.UNPROCESSED)
def sandbox(args: tuple[str, ...]) -> None:
    """The local Salesforce sandbox (`bridge sandbox --help`); runs `python -m sandbox`."""
    import os
    import sys

    # A separate program: nothing in bridge/ imports the sandbox package.
    os.execv(sys.executable, [sys.executable, "-m", "sandbox", *args])  # noqa: S606


COMMANDS = (
    up, web, worker, beat, dispatcher, migrate, keys, orgs, webhooks, credits, dead_letters,
    match, pools, logs,
    agents,
)  # fmt: skip
for command in COMMANDS:
    main.add_command(command)
