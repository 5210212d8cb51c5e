"""The async wrapper from asyncio: calls run off the loop, in a bounded pool."""

from __future__ import annotations

import asyncio
import time
import uuid
from typing import Any

import pytest

from bridge.salesforce import AsyncSalesforceGateway, BudgetExhausted, LeadConvert

from .conftest import make_gateway, sandbox_settings


async def test_async_gateway_does_not_block_the_loop(sandbox: Any) -> None:
    gateway = AsyncSalesforceGateway(make_gateway(sandbox), max_workers=4)
    try:
        company = f"a-{uuid.uuid4().hex[:8]}"
        created = await gateway.create(
            "Lead", [{"LastName": f"A{i}", "Company": company} for i in range(5)]
        )
        lead_ids = [r.id for r in created]
        sandbox.set_faults({"kind": "latency", "path": "/query", "latency_ms": 400, "times": 3})

        ticks = 0

        async def ticker() -> None:
            nonlocal ticks
            while True:
                await asyncio.sleep(0.01)
                ticks += 1

        tick_task = asyncio.create_task(ticker())
        started = time.monotonic()
        fetched, users, described = await asyncio.gather(
            gateway.fetch("Lead", lead_ids, ["Company"]),
            gateway.active_users(),
            gateway.describe("Lead"),
        )
        elapsed = time.monotonic() - started
        tick_task.cancel()

        assert sorted(r["Id"] for r in fetched) == sorted(lead_ids)
        assert sandbox.integration_user_id in {u["Id"] for u in users}
        assert described["name"] == "Lead"
        assert elapsed < 1.0  # the two slow queries ran side by side, not one after another
        assert ticks >= 10  # the loop kept running while the calls waited on Salesforce

        updated = await gateway.update("Lead", [{"Id": lead_ids[0], "Title": "Async"}])
        assert updated[0].success
        (converted,) = await gateway.convert_leads([LeadConvert(lead_id=lead_ids[1])])
        assert converted.success
        first = await gateway.fetch("Lead", [lead_ids[0]], ["SystemModstamp"])
        pages = [
            page
            async for page in gateway.changed_since(
                "Lead", ["Company"], first[0]["SystemModstamp"], page_size=2
            )
        ]
        assert len(pages) >= 2 and pages[-1].last
        deleted = await gateway.delete([lead_ids[4]])
        assert deleted[0].success
        assert (await gateway.query("SELECT Id FROM User LIMIT 1"))["totalSize"] == 1
        assert await gateway.converted_status() == "Closed - Converted"
        assert "DailyApiRequests" in await gateway.limits()
        await gateway.validate_fields("Lead", ["Email", "Owner.IsActive"])
        assert gateway.calls_by_operation["fetch"] == 2
    finally:
        await gateway.close()


async def test_async_gateway_raises_the_same_typed_errors(sandbox: Any) -> None:
    settings = sandbox_settings(sandbox, sf_api_budget_share=0.5)
    gateway = AsyncSalesforceGateway(make_gateway(sandbox, settings=settings))
    try:
        sandbox.set_api_limit(10, used=4)
        await gateway.query("SELECT Id FROM User LIMIT 1")  # now 5/10
        with pytest.raises(BudgetExhausted):
            await gateway.query("SELECT Id FROM User LIMIT 1")
    finally:
        await gateway.close()
