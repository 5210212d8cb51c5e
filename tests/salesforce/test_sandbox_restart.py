"""The gateway outlives a sandbox restart: same data, dropped connections, maybe new tokens."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from .conftest import make_gateway


@pytest.fixture(scope="module")
def own_sandbox(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    # Its own process: restarting the shared one would disturb other modules.
    testing = pytest.importorskip("sandbox.testing")
    with testing.start_sandbox_process(
        tmp_path_factory.mktemp("restart-sandbox"), callouts_enabled=False
    ) as process:
        yield process


def test_gateway_keeps_working_across_a_restart(own_sandbox: Any) -> None:
    gateway = make_gateway(own_sandbox)
    created = [r.id for r in gateway.create("Lead", [{"LastName": "Persist", "Company": "R"}])]
    own_sandbox.restart()
    records = gateway.fetch("Lead", created, ["LastName"])
    assert [r["LastName"] for r in records] == ["Persist"]
    assert gateway.usage.auth_requests <= 2  # at most one refresh if sessions were dropped
