"""`bridge dead-letters`: list and replay tasks that exhausted their retries."""

from __future__ import annotations

from typing import Any

import click

from bridge.db import Database
from bridge.deadletters import service
from bridge.deadletters.tables import DeadLetter
from config.logging import Redactor, configure_logging
from config.settings import get_settings

ERROR_WIDTH = 60


@click.group(name="dead-letters")
def dead_letters() -> None:
    """Inspect and replay dead letters."""


def _database() -> Database:
    settings = get_settings()
    configure_logging(settings)
    return Database.from_settings(settings)


def _first_line(error: str) -> str:
    line = error.strip().splitlines()[0] if error.strip() else ""
    return line if len(line) <= ERROR_WIDTH else line[: ERROR_WIDTH - 1] + "…"


@dead_letters.command(name="list")
@click.option(
    "--status",
    type=click.Choice([*service.STATUSES, "all"]),
    default=service.OPEN,
    show_default=True,
)
@click.option("--limit", type=int, default=50, show_default=True)
def list_command(status: str, limit: int) -> None:
    """Newest first. Shows no arguments (they may hold personal data); see `show ID`."""
    db = _database()
    try:
        wanted = None if status == "all" else status
        rows = service.list_dead_letters(db, status=wanted, limit=limit)
    finally:
        db.dispose()
    if not rows:
        click.echo(f"no dead letters ({status})")
        return
    header = ("ID", "CREATED (UTC)", "STATUS", "TRIES", "TENANT", "TASK", "ERROR")
    table = [
        (
            str(row.id),
            f"{row.created_at:%Y-%m-%d %H:%M:%S}",
            row.status,
            str(row.attempts),
            "" if row.tenant_id is None else str(row.tenant_id),
            row.task_name,
            _first_line(row.error),
        )
        for row in rows
    ]
    widths = [max(len(r[i]) for r in (header, *table)) for i in range(len(header) - 1)]
    for line in (header, *table):
        cells = [cell.ljust(width) for cell, width in zip(line, widths, strict=False)]
        click.echo("  ".join([*cells, line[-1]]).rstrip())


@dead_letters.command(name="show")
@click.argument("dead_letter_id", type=int)
def show_command(dead_letter_id: int) -> None:
    """One dead letter in full, with secrets and personal data redacted."""
    db = _database()
    try:
        row = service.get(db, dead_letter_id)
    except service.DeadLetterNotFound as exc:
        raise click.ClickException(str(exc)) from exc
    finally:
        db.dispose()
    redactor = Redactor(allow_personal_data=get_settings().log_personal_data)
    for key, value in _as_dict(row).items():
        shown = redactor.scrub(value, key) if key in {"args", "kwargs"} else value
        click.echo(f"{key}: {shown}")


@dead_letters.command(name="replay")
@click.argument("dead_letter_id", type=int)
@click.option("--force", is_flag=True, help="Replay even if it was replayed before.")
def replay_command(dead_letter_id: int, force: bool) -> None:
    """Publish the task again with its original arguments and mark the row replayed."""
    from workers.celery_app import app

    def publish(name: str, args: list[Any], kwargs: dict[str, Any], headers: dict[str, Any]) -> str:
        return str(app.send_task(name, args=args, kwargs=kwargs, headers=headers).id)

    db = _database()
    try:
        task_id = service.replay(db, dead_letter_id, publish, force=force)
    except (service.DeadLetterNotFound, service.AlreadyReplayed) as exc:
        raise click.ClickException(str(exc)) from exc
    finally:
        db.dispose()
    click.echo(f"dead letter {dead_letter_id} replayed as task {task_id}")


def _as_dict(row: DeadLetter) -> dict[str, Any]:
    return {
        "id": row.id,
        "status": row.status,
        "task_name": row.task_name,
        "task_id": row.task_id,
        "created_at": row.created_at.isoformat(),
        "replayed_at": row.replayed_at.isoformat() if row.replayed_at else None,
        "attempts": row.attempts,
        "tenant_id": row.tenant_id,
        "request_id": row.request_id,
        "args": row.args,
        "kwargs": row.kwargs,
        "error": row.error,
    }
