"""Pushing a form's lead to a marketing-automation webhook: Standard Webhooks signed, retried
with exponential backoff inside the submission's deadline. The same `webhook-id` is sent on
every attempt, so a receiver that saw an earlier attempt can drop the repeat (idempotent)."""

from __future__ import annotations

import asyncio
import json
import random
import time
from typing import Any

import aiohttp

from bridge.forms.models import PushStatus
from bridge.triggers.signatures import sign

BASE_DELAY_SECONDS = 0.2
ATTEMPT_TIMEOUT_SECONDS = 3.0
# Worth another try: the receiver may answer differently next time.
RETRYABLE = frozenset({408, 425, 429, 500, 502, 503, 504})


async def push(
    session: aiohttp.ClientSession,
    url: str,
    payload: dict[str, Any],
    *,
    webhook_id: str,
    secret: str,
    attempts: int,
    deadline: float,
) -> PushStatus:
    raw = json.dumps(payload, separators=(",", ":"), default=str).encode()
    status: int | None = None
    error = "no attempt made"
    tried = 0
    for attempt in range(attempts):
        tried = attempt + 1
        left = deadline - time.monotonic()
        if left <= 0:
            error = "deadline reached"
            break
        headers = {"Content-Type": "application/json", "webhook-id": webhook_id}
        if secret:
            stamp = int(time.time())
            headers["webhook-timestamp"] = str(stamp)
            headers["webhook-signature"] = sign(raw, secret, webhook_id, stamp)
        try:
            timeout = aiohttp.ClientTimeout(total=min(ATTEMPT_TIMEOUT_SECONDS, left))
            async with session.post(url, data=raw, headers=headers, timeout=timeout) as resp:
                status = resp.status
                if 200 <= status < 300:
                    return PushStatus(target="webhook", success=True, action="delivered",
                                      attempts=tried, status_code=status)  # fmt: skip
                error = f"HTTP {status}"
                if status not in RETRYABLE:
                    break
        except (aiohttp.ClientError, TimeoutError) as exc:
            status, error = None, type(exc).__name__
        if attempt + 1 < attempts:
            delay = BASE_DELAY_SECONDS * 2**attempt * (0.5 + random.random() / 2)
            await asyncio.sleep(max(0.0, min(delay, deadline - time.monotonic())))
    return PushStatus(target="webhook", success=False, attempts=tried, status_code=status,
                      error=error)  # fmt: skip
