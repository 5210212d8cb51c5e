"""One Salesforce gateway per process, opened on first use.

The web app starts (and answers health checks) without Salesforce; the first request that needs
Salesforce opens the gateway, and every domain shares it: one token, one API-usage count, one
connection pool.
"""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING

from bridge.salesforce.gateway import SalesforceGateway

if TYPE_CHECKING:
    from config.settings import Settings


class LazyGateway:
    def __init__(self, settings: Settings, pool_size: int = 32) -> None:
        self.settings = settings
        self.pool_size = pool_size
        self._gateway: SalesforceGateway | None = None
        self._lock = threading.Lock()

    def __call__(self) -> SalesforceGateway:
        if self._gateway is None:
            with self._lock:
                if self._gateway is None:
                    self._gateway = SalesforceGateway.from_settings(
                        self.settings, pool_size=self.pool_size
                    )
        return self._gateway

    @property
    def opened(self) -> bool:
        return self._gateway is not None

    def close(self) -> None:
        if self._gateway is not None:
            self._gateway.close()
            self._gateway = None


def lazy_gateway(settings: Settings, pool_size: int = 32) -> LazyGateway | None:
    """None when no Salesforce sign-in is configured (domains then say so clearly)."""
    if settings.sf_auth == "none" or not settings.sf_instance_url:
        return None
    return LazyGateway(settings, pool_size)
