"""The real Celery app plus a one-second schedule entry, for the beat e2e test.

Its messages go to their own queue, which no worker consumes, so the test counts them there.
"""

from workers.celery_app import app

TICK_QUEUE = "e2e-beat"

app.conf.beat_schedule = {
    **app.conf.beat_schedule,
    "e2e-tick": {"task": "e2e.tick", "schedule": 1.0, "options": {"queue": TICK_QUEUE}},
}
