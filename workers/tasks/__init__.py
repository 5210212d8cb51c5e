"""Celery tasks, one module per area; list a new module in `workers.celery_app.TASK_MODULES`."""
