"""The long-running processes, one command each (what the Procfile runs)."""

from __future__ import annotations

import gc

import click

from config.logging import configure_logging
from config.settings import get_settings


@click.command()
@click.option("--host", default=None, help="Bind address (default BRIDGE_HOST).")
@click.option("--port", type=int, default=None, help="Port (default PORT).")
def web(host: str | None, port: int | None) -> None:
    """Run the HTTP API (one aiohttp process)."""
    from aiohttp import web as aioweb

    from bridge.app import create_app

    settings = get_settings()
    configure_logging(settings)
    app = create_app(settings)
    # Everything imported so far lives as long as the process: keep it out of the cyclic
    # collector's full passes, which otherwise walk it all and stall requests for many ms.
    gc.collect()
    gc.freeze()
    aioweb.run_app(
        app,
        host=host or settings.host,
        port=port or settings.port,
        access_log=None,
        print=lambda msg: click.echo(msg, err=True),
    )


@click.command(context_settings={"ignore_unknown_options": True})
@click.argument("args", nargs=-1, type=click.UNPROCESSED)
def worker(args: tuple[str, ...]) -> None:
    """Run a Celery worker (extra arguments go to `celery worker`)."""
    from workers.celery_app import app

    app.worker_main(["worker", "--loglevel", get_settings().log_level, *args])


@click.command(context_settings={"ignore_unknown_options": True})
@click.argument("args", nargs=-1, type=click.UNPROCESSED)
def beat(args: tuple[str, ...]) -> None:
    """Run Celery beat with the redbeat scheduler (safe to run more than one)."""
    from workers.celery_app import app

    app.start(["beat", "--loglevel", get_settings().log_level, *args])


@click.command()
def migrate() -> None:
    """Apply database migrations (the Procfile's release phase)."""
    from bridge.db.migrate import upgrade

    settings = get_settings()
    configure_logging(settings)
    upgrade(settings.sqlalchemy_url)
    click.echo("migrations applied")
