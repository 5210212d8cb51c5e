"""`python -m sandbox [serve|seed] ...` (also run by `bridge sandbox ...`)."""

from __future__ import annotations

import json
from pathlib import Path

import click

from sandbox.seed import seed_data_dir
from sandbox.server import DEFAULT_CLIENT_ID, DEFAULT_CLIENT_SECRET, ServeOptions, run
from sandbox.usage import DEFAULT_DAILY_LIMIT

_DATA_DIR = click.option(
    "--data-dir", type=click.Path(path_type=Path, file_okay=False), default=Path("var/sandbox"),
    show_default=True, help="Where the SQLite file, CA and sandbox.json live.",
)  # fmt: skip


@click.group(invoke_without_command=True, context_settings={"help_option_names": ["-h", "--help"]})
@click.pass_context
def sandbox_cli(ctx: click.Context) -> None:
    """A local Salesforce stand-in over HTTPS. Without a subcommand: serve."""
    if ctx.invoked_subcommand is None:
        ctx.invoke(serve)


@sandbox_cli.command()
@_DATA_DIR
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", type=int, default=8443, show_default=True, help="0 picks a free port.")
@click.option("--schema", type=click.Path(path_type=Path, dir_okay=False, exists=True),
              help="JSON/YAML file declaring custom (__c) fields.")  # fmt: skip
@click.option("--client-id", default=DEFAULT_CLIENT_ID, show_default=True)
@click.option("--client-secret", default=DEFAULT_CLIENT_SECRET, show_default=True)
@click.option("--callout-url", help="Where the emulated Apex triggers POST their events.")
@click.option("--callout-secret", help="Standard Webhooks secret (whsec_...).")
@click.option("--callout-api-key", help="Sent as `Authorization: Bearer ...` with callouts.")
@click.option("--callouts/--no-callouts", "callouts_enabled", default=True, show_default=True)
@click.option("--api-daily-limit", type=int, default=DEFAULT_DAILY_LIMIT, show_default=True)
@click.option("--token-lifetime", type=float, default=7200.0, show_default=True,
              help="Seconds an access token stays valid.")  # fmt: skip
@click.option("--jwt-public-key", type=click.Path(path_type=Path, dir_okay=False, exists=True),
              help="PEM public key or certificate for the JWT bearer flow.")  # fmt: skip
@click.option("--random-seed", type=int, help="Seed for fault and callout-drop randomness.")
def serve(
    data_dir: Path = Path("var/sandbox"), host: str = "127.0.0.1", port: int = 8443,
    schema: Path | None = None, client_id: str = DEFAULT_CLIENT_ID,
    client_secret: str = DEFAULT_CLIENT_SECRET, callout_url: str | None = None,
    callout_secret: str | None = None, callout_api_key: str | None = None,
    callouts_enabled: bool = True, api_daily_limit: int = DEFAULT_DAILY_LIMIT,
    token_lifetime: float = 7200.0, jwt_public_key: Path | None = None,
    random_seed: int | None = None,
) -> None:  # fmt: skip
    """Serve HTTPS; print the connection JSON (also in DATA_DIR/sandbox.json) once listening."""
    run(ServeOptions(
        data_dir=data_dir, host=host, port=port, schema=schema, client_id=client_id,
        client_secret=client_secret, callout_url=callout_url, callout_secret=callout_secret,
        callout_api_key=callout_api_key, callouts_enabled=callouts_enabled,
        api_daily_limit=api_daily_limit, token_lifetime=token_lifetime,
        jwt_public_key=jwt_public_key, random_seed=random_seed,
    ))  # fmt: skip


@sandbox_cli.command()
@_DATA_DIR
@click.option("--users", type=int, default=0, show_default=True)
@click.option("--accounts", type=int, default=0, show_default=True)
@click.option("--contacts", type=int, default=0, show_default=True)
@click.option("--leads", type=int, default=0, show_default=True)
@click.option("--seed", "random_seed", type=int, help="Faker/random seed for repeatable data.")
@click.option("--schema", type=click.Path(path_type=Path, dir_okay=False, exists=True))
def seed(
    data_dir: Path, users: int, accounts: int, contacts: int, leads: int,
    random_seed: int | None, schema: Path | None,
) -> None:  # fmt: skip
    """Add realistic records (with near-duplicates) straight into DATA_DIR's SQLite file."""
    counts = seed_data_dir(
        data_dir, schema, users=users, accounts=accounts, contacts=contacts, leads=leads,
        seed=random_seed,
    )  # fmt: skip
    click.echo(json.dumps(counts))


def main(argv: list[str] | None = None) -> None:
    """Entry point: options without a subcommand mean `serve` (`python -m sandbox --port 0`)."""
    import sys

    args = list(sys.argv[1:] if argv is None else argv)
    if args and args[0] not in sandbox_cli.commands and args[0] not in ("--help", "-h"):
        args.insert(0, "serve")
    sandbox_cli.main(args=args, prog_name="python -m sandbox")
