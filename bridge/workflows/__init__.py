"""Workflows: named step lists triggered by external systems, run by workers."""
