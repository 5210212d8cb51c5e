"""`bridge agents fetch RUN_ID`: download a finished run's results and credits CSVs."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from bridge.agents import service
from bridge.agents.storage import StorageError, key_of, store_from_settings
from bridge.db import Database
from config.settings import get_settings


@click.group("agents")
def agents() -> None:
    """Batch agent runs (phone, email, phone-email, deep-research)."""


@agents.command("fetch")
@click.argument("run_id")
@click.option(
    "--dest",
    type=click.Path(file_okay=False, path_type=Path),
    default=Path("."),
    show_default=True,
    help="Directory the two CSV files are written to.",
)
def fetch(run_id: str, dest: Path) -> None:
    """Download RUN_ID's results CSV and credits CSV into --dest."""
    try:
        run_id = service.parse_run_id(run_id)
    except service.InvalidRunId as exc:
        raise click.BadParameter(str(exc), param_hint="RUN_ID") from None
    settings = get_settings()
    db = Database.from_settings(settings)
    try:
        found = service.run_paths(db, run_id)
    finally:
        db.dispose()
    if found is None:
        click.echo(f"run {run_id} not found", err=True)
        sys.exit(1)
    status, *paths = found
    if status != "completed":
        click.echo(f"run {run_id} is {status}: nothing to fetch yet", err=True)
        sys.exit(2 if status == "failed" else 3)
    storage = store_from_settings(settings)
    dest.mkdir(parents=True, exist_ok=True)
    for path in paths:
        try:
            data = storage.get(key_of(storage, path))
        except StorageError as exc:
            click.echo(str(exc), err=True)
            sys.exit(1)
        target = dest / path.rsplit("/", 1)[-1]
        target.write_bytes(data)
        click.echo(str(target))
