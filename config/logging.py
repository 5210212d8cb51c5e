"""structlog set-up: JSON lines in production, readable console output in development.

The request id lives in a contextvar (`bind_request_id`), so every log line of a request, and of
the Celery task it causes, carries it. `redact` keeps secrets and personal data out of logs.
"""

from __future__ import annotations

import logging
import os
import re
import sys
from collections.abc import Mapping, MutableMapping
from functools import lru_cache
from typing import Any

import structlog
from structlog.contextvars import bind_contextvars, get_contextvars, merge_contextvars

from config.settings import Settings

REDACTED = "[redacted]"

# Keys whose values are secrets, whatever they hold. Matched on the lower-cased key.
_SECRET_KEY = re.compile(
    r"(authorization|api[_-]?key|secret|password|passwd|token|session[_-]?id|signature|"
    r"private[_-]?key|cookie|credential)"
)
# Keys whose values are personal data (redacted unless log_personal_data is on).
# Person fields only: `name` alone or `task_name` are not personal data.
_PERSONAL_KEY = re.compile(
    r"^(email|phone|mobile_?phone|mobile|first_?name|last_?name|full_?name|"
    r"person_?name|contact_?name)$|(^|_)(email|phone)$"
)
# Personal data and bearer tokens inside free text.
_EMAIL = re.compile(r"[A-Za-z0-9._%+-]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,}")
# Phone-like runs of digits; dotted quads (IP addresses) and the tails of ids
# (`...-446655440000`) are left alone.
_PHONE = re.compile(r"(?<![\w.-])\+?\d[\d ().-]{7,}\d(?![\w.])")
_IPV4 = re.compile(r"\b\d{1,3}(?:\.\d{1,3}){3}\b")
_BEARER = re.compile(r"(?i)\b(bearer|basic)\s+[A-Za-z0-9._~+/=-]+")
# Our own secrets (webhook secrets, bridge keys) and AI providers' key shapes (sk-...,
# sk-proj-..., pk-/rk-..., also as their error messages mask them: sk-proj-****abcd).
_SECRET_TOKEN = re.compile(
    r"\b(?:(?:whsec_|brk_)[A-Za-z0-9_+/=-]+|(?:sk|pk|rk)-[A-Za-z0-9_*.-]{4,})"
)
# One scan that finds anything the four patterns above could match: most values (names of
# companies, titles, ids, numbers) have none, and then no substitution is tried at all.
_SUSPECT = re.compile(r"(?i)bearer|basic|whsec_|brk_|\b[spr]k-|@|\d[\d ().-]{7,}\d")


@lru_cache(maxsize=4096)
def _key_kind(lowered: str) -> str:
    """'secret', 'personal' or '' for a (lower-cased) key; keys repeat, so decided once."""
    if _SECRET_KEY.search(lowered) and lowered != "token_type":
        return "secret"
    return "personal" if _PERSONAL_KEY.search(lowered) else ""


class Redactor:
    """A structlog processor; also usable on any mapping (e.g. before persisting a request)."""

    def __init__(self, allow_personal_data: bool = False) -> None:
        self.allow_personal_data = allow_personal_data

    def __call__(self, _logger: Any, _name: str, event_dict: MutableMapping[str, Any]) -> Any:
        return self.scrub(event_dict)

    def scrub(self, value: Any, key: str = "") -> Any:
        kind = _key_kind(key.lower()) if key else ""
        if kind == "secret" or (kind == "personal" and not self.allow_personal_data):
            return REDACTED if value not in (None, "") else value
        if isinstance(value, Mapping):
            return {k: self.scrub(v, str(k)) for k, v in value.items()}
        if isinstance(value, list | tuple | set):
            return [self.scrub(v, key) for v in value]
        if isinstance(value, str):
            return self.scrub_text(value)
        return value

    def scrub_text(self, text: str) -> str:
        if not _SUSPECT.search(text):
            return text
        text = _BEARER.sub(lambda m: f"{m.group(1)} {REDACTED}", text)
        text = _SECRET_TOKEN.sub(REDACTED, text)
        if not self.allow_personal_data:
            text = _EMAIL.sub(REDACTED, text)
            text = _PHONE.sub(_redact_phone, text)
        return text


def _redact_phone(match: re.Match[str]) -> str:
    return match.group(0) if _IPV4.fullmatch(match.group(0)) else REDACTED


def new_request_id() -> str:
    # The same 128 random bits as uuid4().hex, without building a UUID (hot path).
    return os.urandom(16).hex()


def bind_request_id(request_id: str | None) -> str:
    """Bind (or create) the request id for the current context and return it."""
    rid = request_id or new_request_id()
    bind_contextvars(request_id=rid)
    return rid


def current_request_id() -> str | None:
    value = get_contextvars().get("request_id")
    return str(value) if value else None


def configure_logging(settings: Settings) -> None:
    """Idempotent: called by every process entry point (web, worker, beat, CLI)."""
    redactor = Redactor(allow_personal_data=settings.log_personal_data)
    shared: list[Any] = [
        merge_contextvars,
        structlog.stdlib.add_log_level,
        structlog.stdlib.add_logger_name,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
        structlog.processors.format_exc_info,
        redactor,
    ]
    renderer: Any = (
        structlog.processors.JSONRenderer()
        if settings.json_logs
        else structlog.dev.ConsoleRenderer(colors=sys.stderr.isatty())
    )
    structlog.configure(
        # Drop below-level events first, before any other processor spends time on them.
        processors=[
            structlog.stdlib.filter_by_level,
            *shared,
            structlog.stdlib.ProcessorFormatter.wrap_for_formatter,
        ],
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.stdlib.BoundLogger,
        cache_logger_on_first_use=False,
    )
    # Route stdlib logging (aiohttp, celery, sqlalchemy) through the same processors.
    formatter = structlog.stdlib.ProcessorFormatter(
        foreign_pre_chain=shared,
        processors=[structlog.stdlib.ProcessorFormatter.remove_processors_meta, renderer],
    )
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(formatter)
    root = logging.getLogger()
    for old in list(root.handlers):
        if getattr(old, "_bridge", False):
            root.removeHandler(old)
    handler._bridge = True  # type: ignore[attr-defined]
    root.addHandler(handler)
    root.setLevel(settings.log_level.upper())
    logging.getLogger("aiohttp.access").setLevel(logging.WARNING)
