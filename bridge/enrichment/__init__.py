"""Enrichment: a cascade of providers filling wanted fields, each with provider and confidence.

The sync endpoints (`/v1/enrich/*`, `api.py`) and the pipeline's enrich step (`step.py`) both
call `EnrichmentService` (`service.py`): one implementation, two doors.
"""
