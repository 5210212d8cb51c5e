"""Standard Webhooks verification over the raw body, with secret rotation.

The `standardwebhooks` package does the HMAC; this wraps it so any malformed header gives a
clean refusal (the package raises ValueError/binascii errors on garbage) and several secrets can
be active at once while a tenant rotates.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from functools import lru_cache

from multidict import CIMultiDict, CIMultiDictProxy
from standardwebhooks.webhooks import Webhook, WebhookVerificationError

TOLERANCE_SECONDS = 300
_NAMES = ("webhook-id", "webhook-timestamp", "webhook-signature")


class InvalidSignature(Exception):
    """The callout is not provably from the tenant's org (missing, stale or forged)."""


def verify(raw_body: bytes, headers: Mapping[str, str], secrets: Sequence[str]) -> str:
    """Return the `webhook-id` when any of `secrets` signed this body; raise otherwise."""
    if not isinstance(headers, CIMultiDictProxy | CIMultiDict):
        headers = {k.lower(): v for k, v in headers.items()}
    # Only the three signed headers go to the package, which lowers every key it is given.
    wanted = {name: headers.get(name, "") for name in _NAMES}
    webhook_id = wanted["webhook-id"]
    if not all(wanted.values()):
        raise InvalidSignature("missing webhook-id, webhook-timestamp or webhook-signature")
    if len(webhook_id) > 255:
        raise InvalidSignature("webhook-id too long")
    reason = "no matching signature"
    for secret in secrets:
        try:
            _webhook(secret).verify(raw_body, wanted, json_parse=False)
            return webhook_id
        except WebhookVerificationError as exc:
            reason = str(exc)
            if "timestamp" in reason.lower() or "headers" in reason.lower():
                break  # the same for every secret
        except (ValueError, TypeError, UnicodeDecodeError):
            reason = "malformed signature header or body"
            break
    raise InvalidSignature(reason)


@lru_cache(maxsize=1024)
def _webhook(secret: str) -> Webhook:
    # Building one decodes the secret; a tenant's few secrets sign every callout it sends.
    return Webhook(secret)


def sign(raw_body: bytes, secret: str, webhook_id: str, timestamp: int) -> str:
    """The `webhook-signature` value a sender computes (used by tests, docs and the sandbox)."""
    from datetime import UTC, datetime

    return Webhook(secret).sign(
        webhook_id, datetime.fromtimestamp(timestamp, tz=UTC), raw_body.decode()
    )
