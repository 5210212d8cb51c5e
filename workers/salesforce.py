"""The worker process's one Salesforce gateway (opened lazily; never shared across a fork)."""

from __future__ import annotations

import os
from collections.abc import Callable

from bridge.salesforce.gateway import SalesforceGateway
from config.settings import get_settings

_gateway: tuple[int, SalesforceGateway] | None = None


def gateway() -> SalesforceGateway:
    global _gateway
    if _gateway is None or _gateway[0] != os.getpid():
        _gateway = (os.getpid(), SalesforceGateway.from_settings(get_settings()))
    return _gateway[1]


def gateway_getter() -> Callable[[], SalesforceGateway] | None:
    """`gateway` for domain code that takes a getter; None when no sign-in is configured."""
    settings = get_settings()
    if settings.sf_auth == "none" or not settings.sf_instance_url:
        return None
    return gateway
