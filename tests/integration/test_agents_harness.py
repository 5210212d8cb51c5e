"""Shared pieces of the batch-agent tests: sandbox people, an upstream that knows them, a run
context built from real services (SQL, Redis, the sandbox gateway, local chat server)."""

from __future__ import annotations

import csv
import io
import uuid
from dataclasses import dataclass
from typing import Any

import redis
from sqlalchemy import select

from bridge.agents import runner
from bridge.agents.deps import AgentServices
from bridge.agents.storage import LocalStore, S3Store, store_from_settings
from bridge.ai.service import AiService
from bridge.credits.tables import CreditEntry
from bridge.db import Database
from bridge.enrichment.service import EnrichmentService
from bridge.salesforce.gateway import SalesforceGateway
from config.settings import Settings
from tests.integration.test_enrich_upstream_server import UpstreamServer

# (first, last, company, website, email) -> what the upstream knows about them
PEOPLE = [
    (
        "Grace",
        "Hopper",
        "Navy",
        "https://navy.mil",
        {"phone": "+12025550100", "email": "grace@navy.mil"},
    ),
    ("Ada", "Lovelace", "Engines", "https://engines.io", {"email": "ada@engines.io"}),
    ("Alan", "Turing", "Bletchley", "https://bletchley.uk", {"phone": "+441908640404"}),
    ("Edsger", "Dijkstra", "Eindhoven", "https://tue.nl", {}),
]


def teach(upstream: UpstreamServer) -> None:
    for first, last, _, website, data in PEOPLE:
        if data:
            upstream.add_person(first, last, website.removeprefix("https://"), **data)


def make_leads(sandbox: Any) -> list[str]:
    """The four people as Leads (unique names per test: the sandbox is shared), plus one Lead
    with nothing to look people up by (no company, no email)."""
    tag = uuid.uuid4().hex[:6]
    ids = []
    for first, last, company, website, _ in PEOPLE:
        ids.append(
            sandbox.create(
                "Lead",
                {
                    "FirstName": first,
                    "LastName": last,
                    "Company": f"{company}",
                    "Website": website,
                    "Description": tag,
                },
            )
        )
    ids.append(sandbox.create("Lead", {"LastName": f"Nobody{tag}", "Company": "[not provided]"}))
    return ids


def read_csv(data: bytes) -> tuple[list[str], list[dict[str, str]]]:
    reader = csv.DictReader(io.StringIO(data.decode()))
    rows = list(reader)
    return list(reader.fieldnames or []), rows


@dataclass
class Harness:
    settings: Settings
    db: Database
    ctx: runner.RunContext

    @property
    def storage(self) -> LocalStore | S3Store:
        return self.ctx.storage

    def drive(self, run_id: str, max_steps: int = 100) -> int:
        """Step the run to its end as the worker task would; returns the steps taken."""
        for n in range(1, max_steps + 1):
            if not runner.step(self.ctx, run_id):
                return n
        raise AssertionError("run did not finish")

    def debits(self, run_id: str) -> list[tuple[str | None, int]]:
        with self.db.session() as session:
            query = select(CreditEntry.custom_value, CreditEntry.amount).where(
                CreditEntry.workflow_run_id == run_id, CreditEntry.kind == "debit"
            )
            return [(v, int(a)) for v, a in session.execute(query)]


def harness(settings: Settings, db: Database, chunk_size: int = 2) -> Harness:
    client = redis.Redis.from_url(settings.redis_url)
    services = AgentServices(
        enrichment=EnrichmentService.from_settings(settings, client),
        ai=AiService.from_settings(settings),
        enrich_budget=settings.enrich_upstream_max_credits,
    )
    gateway = SalesforceGateway.from_settings(settings) if settings.sf_instance_url else None
    ctx = runner.RunContext(
        db=db,
        fetcher=gateway,
        storage=store_from_settings(settings),
        agent_for=services.agent_for,
        chunk_size=chunk_size,
    )
    return Harness(settings, db, ctx)
