"""`bridge dispatcher`: turns accepted trigger ids into worker batches (run one or more)."""

from __future__ import annotations

import os
import signal
import socket
from types import FrameType

import click
import redis
import structlog
from structlog.contextvars import bound_contextvars

from bridge.triggers.dispatcher import Batch, Dispatcher
from config.logging import configure_logging
from config.settings import get_settings

log = structlog.get_logger(__name__)


@click.command()
def dispatcher() -> None:
    """Coalesce accepted ids into batches of up to 200 per tenant and object."""
    from workers.tasks.triggers import process_batch

    settings = get_settings()
    configure_logging(settings)

    def publish(batch: Batch) -> None:
        # The batch's first request id travels with the task, so its logs join the request's.
        with bound_contextvars(request_id=batch.items[0].request_id or None):
            process_batch.apply_async(args=[batch.payload()])

    client = redis.Redis.from_url(
        settings.redis_url, socket_timeout=30, socket_connect_timeout=5, health_check_interval=25
    )
    runner = Dispatcher(
        client,
        publish,
        consumer=f"{socket.gethostname()}-{os.getpid()}",
        batch_size=min(settings.trigger_batch_size, 200),
        linger=settings.trigger_batch_linger_seconds,
        claim_idle=settings.trigger_claim_idle_seconds,
    )

    def stop(signum: int, _frame: FrameType | None) -> None:
        log.info("dispatcher stopping", signal=signum)
        runner.stop()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    log.info("dispatcher started", consumer=runner.consumer)
    runner.run()
    log.info("dispatcher stopped", batches=runner.published_batches, ids=runner.published_ids)
