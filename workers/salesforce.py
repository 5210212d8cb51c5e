"""The worker process's one Salesforce gateway (opened lazily; never shared across a fork)."""

from __future__ import annotations

import os

from bridge.salesforce.gateway import SalesforceGateway
from config.settings import get_settings

_gateway: tuple[int, SalesforceGateway] | None = None


def gateway() -> SalesforceGateway:
    global _gateway
    if _gateway is None or _gateway[0] != os.getpid():
        _gateway = (os.getpid(), SalesforceGateway.from_settings(get_settings()))
    return _gateway[1]
