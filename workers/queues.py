"""How much work sits in the Redis broker, read from kombu's own keys."""

from __future__ import annotations

import redis

# kombu's Redis transport keeps one list per priority step: the queue name for step 0 and
# "<queue>\x06\x16<step>" for the others; unacked messages (running, or waiting for their
# countdown in a worker) live in the "unacked" hash until acknowledged.
PRIORITY_SEPARATOR = "\x06\x16"
PRIORITY_STEPS = (0, 3, 6, 9)
UNACKED_KEY = "unacked"

# The Celery queues (workers.celery_app routes by them): batches and everything else on the
# default queue, polls on their own so a batch backlog cannot hold up the polling fallback.
DEFAULT_QUEUE = "celery"
POLLING_QUEUE = "polling"
QUEUES = (DEFAULT_QUEUE, POLLING_QUEUE)


def queue_keys(queue: str) -> list[str]:
    return [queue if step == 0 else f"{queue}{PRIORITY_SEPARATOR}{step}" for step in PRIORITY_STEPS]


def backlog(client: redis.Redis, *queues: str) -> dict[str, int]:
    """Messages waiting in `queues` (all of them by default) and unacknowledged anywhere."""
    with client.pipeline(transaction=False) as pipe:
        for queue in queues or QUEUES:
            for key in queue_keys(queue):
                pipe.llen(key)
        pipe.hlen(UNACKED_KEY)
        *lengths, unacked = pipe.execute()
    return {"queued": int(sum(lengths)), "unacked": int(unacked)}
