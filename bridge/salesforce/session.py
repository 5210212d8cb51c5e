"""The one `requests.Session` every Salesforce call goes through.

It carries a default timeout (simple-salesforce passes none, and a hung socket would pin a
Celery worker forever), the CA bundle to trust (the sandbox's throwaway CA), and a connection
pool as large as the thread pool that shares it.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import requests
from requests.adapters import HTTPAdapter


class SalesforceSession(requests.Session):
    def __init__(
        self,
        *,
        timeout: float = 30.0,
        ca_bundle: Path | str | None = None,
        pool_size: int = 10,
    ) -> None:
        super().__init__()
        self.timeout = timeout
        self._ca_bundle = str(ca_bundle) if ca_bundle is not None else None
        if self._ca_bundle is not None:
            self.verify = self._ca_bundle
        adapter = HTTPAdapter(pool_connections=pool_size, pool_maxsize=pool_size)
        self.mount("https://", adapter)

    def request(self, method: Any, url: Any, *args: Any, **kwargs: Any) -> requests.Response:
        kwargs.setdefault("timeout", self.timeout)
        if self._ca_bundle is not None:
            # Per request, because requests lets REQUESTS_CA_BUNDLE/CURL_CA_BUNDLE from the
            # environment override `Session.verify` (psf/requests#3829); proxies stay env-driven.
            kwargs.setdefault("verify", self._ca_bundle)
        return super().request(method, url, *args, **kwargs)
