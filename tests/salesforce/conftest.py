"""One real sandbox process (HTTPS, own CA) for every Salesforce test; fresh gateways per test."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from bridge.salesforce import RetryPolicy, SalesforceGateway
from config.settings import Settings

BIG_LIMIT = 1_000_000
# Real backoff would make the fault tests slow; the policy's shape is unit-tested.
FAST_RETRY = RetryPolicy(max_retries=4, base_delay=0.005, max_delay=0.02)


@pytest.fixture(scope="session")
def sandbox(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    testing = pytest.importorskip("sandbox.testing")
    process = testing.start_sandbox_process(
        tmp_path_factory.mktemp("salesforce-sandbox"),
        api_daily_limit=BIG_LIMIT,
        callouts_enabled=False,
    )
    with process:
        yield process


@pytest.fixture(autouse=True)
def _clean_sandbox(request: pytest.FixtureRequest) -> Iterator[None]:
    """Faults and budget reset after each test that used the sandbox."""
    yield
    if "sandbox" in request.fixturenames:
        sandbox = request.getfixturevalue("sandbox")
        sandbox.clear_faults()
        sandbox.set_api_limit(BIG_LIMIT, used=0)


def sandbox_settings(sandbox: Any, **overrides: Any) -> Settings:
    values: dict[str, Any] = {
        "sf_auth": "sandbox",
        "sf_instance_url": sandbox.instance_url,
        "sf_ca_bundle": sandbox.ca_bundle,
        "sf_client_id": sandbox.client_id,
        "sf_client_secret": sandbox.client_secret,
        "sf_api_version": "60.0",
        **overrides,
    }
    return Settings(_env_file=None, **values)


def make_gateway(
    sandbox: Any, *, settings: Settings | None = None, **options: Any
) -> SalesforceGateway:
    options.setdefault("retry", FAST_RETRY)
    return SalesforceGateway.from_settings(settings or sandbox_settings(sandbox), **options)


@pytest.fixture
def gateway(sandbox: Any) -> Iterator[SalesforceGateway]:
    gw = make_gateway(sandbox)
    yield gw
    gw.close()


@pytest.fixture
def raw_sf(sandbox: Any) -> Any:
    """Plain simple-salesforce over HTTPS, to check the wire shapes themselves."""
    return sandbox.salesforce()
