"""What a workflow step raises when retrying cannot help."""

from __future__ import annotations


class StepFailed(Exception):
    """A permanent problem with this job: retrying cannot help."""
