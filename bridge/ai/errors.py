"""What can go wrong asking the model; the web door maps each to a documented status."""

from __future__ import annotations


class AiError(Exception):
    """The AI endpoint failed or answered something unusable."""


class AiNotConfigured(AiError):
    """No base URL or no model for the requested effort (answered 503, never faked)."""


class AiUnavailable(AiError):
    """The endpoint was unreachable or answered an HTTP error (answered 502)."""


class AiBadAnswer(AiError):
    """The model's answer could not be used, e.g. invalid JSON twice in JSON mode (502)."""
