"""A request carrying a bearer key and an email leaves neither in the logs."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from typing import Any

import pytest
import structlog

from bridge.app import create_app
from bridge.db import Database
from bridge.tenants.service import create_key
from config.logging import configure_logging
from config.settings import Settings


@pytest.fixture
def json_logs(settings: Settings) -> Iterator[Settings]:
    logged = settings.model_copy(update={"log_json": True, "log_level": "DEBUG"})
    yield logged
    root = logging.getLogger()
    for handler in list(root.handlers):
        if getattr(handler, "_bridge", False):
            root.removeHandler(handler)
    root.setLevel(logging.WARNING)
    structlog.reset_defaults()


async def test_no_key_or_email_in_logs(
    aiohttp_client: Any, json_logs: Settings, db: Database, capsys: pytest.CaptureFixture[str]
) -> None:
    configure_logging(json_logs)  # after capsys swapped stderr, so the handler writes there
    key = create_key(db, "acme")
    client = await aiohttp_client(create_app(json_logs))
    email = "jane.doe@example.com"
    body = json.dumps({"email": email, "note": f"write to {email}"})
    for auth in (key.key, key.key[:-3] + "zzz"):  # a good and a wrong key
        await client.get(
            "/v1/credits/usage",
            params={"start_date": "2024-01-01", "end_date": "2024-02-01", "custom_value": email},
            data=body,
            headers={"Authorization": f"Bearer {auth}", "Content-Type": "application/json"},
        )
    # Also what a careless handler might log: redaction is the second line of defence.
    structlog.get_logger("test").warning(
        "careless", authorization=f"Bearer {key.key}", payload=json.loads(body), text=body
    )
    logged = capsys.readouterr().err
    lines = [json.loads(line) for line in logged.splitlines() if line.startswith("{")]
    assert any(line.get("event") == "request" for line in lines)
    assert any(line.get("key_id") == key.key_id for line in lines)  # the request was logged
    secret = key.key.split("_", 2)[2]
    assert secret not in logged and key.key[:-3] not in logged
    assert email not in logged and "jane.doe" not in logged


def test_ai_provider_key_shapes_in_free_text(
    json_logs: Settings, capsys: pytest.CaptureFixture[str]
) -> None:
    """An AI provider's error quoting a key (whole or masked) leaves no key in the logs."""
    configure_logging(json_logs)
    keys = ["sk-proj-Ab12Cd34Ef56", "sk-proj-****wxyz", "pk-live-9a8b7c6d", "rk_x rk-abcd_1234"]
    structlog.get_logger("test").warning(
        "ai.failed", error=f"Incorrect API key provided: {', '.join(keys)} (task-1234, disk-full)"
    )
    (line,) = [json.loads(line) for line in capsys.readouterr().err.splitlines()]
    assert line["error"] == (
        "Incorrect API key provided: [redacted], [redacted], [redacted], rk_x [redacted] "
        "(task-1234, disk-full)"
    )
