"""The beat schedule: every periodic job of the bridge, in one place.

To add one, add an entry to `beat_schedule` (task name, how often, and an `expires` a little
under the period, so runs missed while the workers were down do not pile up). celery-redbeat
keeps the schedule in Redis and syncs these static entries at every beat start; removing an
entry here removes it there. Long or exclusive jobs should also take their own Redis lock.
"""

from __future__ import annotations

from typing import Any

from config.settings import Settings

BACKLOG_REPORT_SECONDS = 60.0
AGENT_RESUME_SECONDS = 60.0


def beat_schedule(settings: Settings) -> dict[str, dict[str, Any]]:
    return {
        # The polling fallback: one poll task per enabled object of the connected org.
        "poll-salesforce": {
            "task": "triggers.poll_all",
            "schedule": float(settings.poll_interval_seconds),
            # Expire a run that waited most of an interval: the next one is due anyway.
            "options": {"expires": settings.poll_interval_seconds * 0.9},
        },
        # The match index: changes every poll interval, a full rebuild every few hours.
        "refresh-match-index": {
            "task": "matching.refresh_index",
            "schedule": float(settings.poll_interval_seconds),
            # Expire a run that waited most of an interval: the next one is due anyway.
            "options": {"expires": settings.poll_interval_seconds * 0.9},
        },
        "rebuild-match-index": {
            "task": "matching.rebuild_index",
            "schedule": settings.matching_index_rebuild_hours * 3600.0,
            "options": {"expires": max(60.0, settings.matching_index_rebuild_hours * 3600 - 60)},
        },
        # Route-log retention: each tenant once a day after 2 AM in its own time zone; the
        # frequent check is what lets every zone get its 2 AM.
        "route-log-cleanup": {
            "task": "logs.cleanup_due",
            "schedule": settings.log_cleanup_check_minutes * 60.0,
            "options": {"expires": settings.log_cleanup_check_minutes * 60.0 - 5},
        },
        # Batch agent runs gone silent (a killed worker, a lost publish) are republished.
        "resume-agent-runs": {
            "task": "agents.resume_stale",
            "schedule": AGENT_RESUME_SECONDS,
            "options": {"expires": AGENT_RESUME_SECONDS - 5},
        },
        # Workflow jobs: new triggers and due retries (a drain finds nothing quickly).
        "workflows-drain": {
            "task": "workflows.drain",
            "schedule": 1.0,
            "options": {"expires": 5.0},
        },
        "report-backlog": {
            "task": "housekeeping.report_backlog",
            "schedule": BACKLOG_REPORT_SECONDS,
            "options": {"expires": BACKLOG_REPORT_SECONDS - 5},
        },
    }
