"""Prometheus metrics shared by every web and worker process.

Processes count into an in-process `Recorder` (no I/O on the hot path) and push the deltas to
Redis: web processes every `metrics_flush_seconds`, workers after every task. `GET /metrics`
(any web process) renders the totals from Redis plus gauges read at scrape time from the
shared stores (queue depth, poll lag, dead letters, Salesforce usage), so one scrape sees the
whole deployment, however many processes and hosts it runs on. See docs/logs-and-dashboard.md.
"""
