"""Batch agents with real processes: `bridge web` accepts the run, `bridge worker` executes it
against the sandbox over HTTPS; a worker killed mid-run is replaced and the run resumes where
it stopped, with no record charged twice."""

from __future__ import annotations

import signal
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlparse

import pytest
import requests
from sqlalchemy import select

from bridge.credits import service as credits
from bridge.credits.tables import CreditEntry
from bridge.db import Database
from bridge.embedded_redis import free_port
from bridge.tenants import service as tenants
from tests.e2e.conftest import BRIDGE, Processes, wait_until
from tests.e2e.test_workers import publish
from tests.integration.test_agents_harness import make_leads, read_csv, teach
from tests.integration.test_ai_chat_server import ChatServer, RunningChat
from tests.integration.test_enrich_upstream_server import RunningUpstream, UpstreamServer

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(120)]


@dataclass
class Stack:
    url: str
    headers: dict[str, str]
    env: dict[str, str]
    db: Database
    tenant_id: int
    chat: ChatServer

    def submit(self, agent: str, body: dict[str, Any]) -> dict[str, str]:
        resp = requests.post(
            f"{self.url}/v1/agents/{agent}", json=body, headers=self.headers, timeout=10
        )
        assert resp.status_code == 202, resp.text
        return dict(resp.json())

    def status(self, run_id: str) -> dict[str, Any]:
        resp = requests.get(
            f"{self.url}/v1/agents/runs/{run_id}/status", headers=self.headers, timeout=10
        )
        assert resp.status_code == 200, resp.text
        return dict(resp.json())

    def debits(self, run_id: str) -> Counter[str]:
        with self.db.session() as session:
            query = select(CreditEntry.custom_value).where(
                CreditEntry.workflow_run_id == run_id, CreditEntry.kind == "debit"
            )
            return Counter(str(v) for v in session.scalars(query))


@pytest.fixture
def stack(
    tmp_path: Path, stack_env: dict[str, str], database_url: str, sandbox: Any, processes: Processes
) -> Iterator[Stack]:
    db = Database(database_url)
    created = tenants.create_key(db, "acme")
    credits.grant(db, created.tenant_id, 10_000)
    upstream = UpstreamServer(balance=100_000)
    teach(upstream)
    chat = ChatServer(delay=0.4)
    with RunningUpstream(upstream), RunningChat(chat):
        env = {
            **stack_env,
            "BRIDGE_SF_AUTH": "sandbox",
            "BRIDGE_SF_INSTANCE_URL": sandbox.instance_url,
            "BRIDGE_SF_CA_BUNDLE": str(sandbox.ca_bundle),
            "BRIDGE_SF_CLIENT_ID": sandbox.client_id,
            "BRIDGE_SF_CLIENT_SECRET": sandbox.client_secret,
            "BRIDGE_ENRICH_UPSTREAM_URL": upstream.url,
            "BRIDGE_ENRICH_UPSTREAM_API_KEY": upstream.api_key,
            "BRIDGE_AI_BASE_URL": chat.url,
            "BRIDGE_AI_API_KEY": chat.api_key,
            "BRIDGE_AI_MODEL": "small",
            "BRIDGE_AGENTS_CHUNK_SIZE": "2",
            "BRIDGE_AGENTS_STALE_AFTER_SECONDS": "1",
            "BRIDGE_AGENTS_STORAGE_DIR": str(tmp_path / "results"),
            "BRIDGE_RATE_LIMIT_BATCH_PER_MIN": "100",
            "BRIDGE_TASK_TIME_LIMIT": "4",  # the run lock lasts this + 5 s
        }
        port = free_port()
        processes.start("web", [*BRIDGE, "web", "--port", str(port)], env)
        url = f"http://127.0.0.1:{port}"
        wait_until(lambda: _answers(f"{url}/healthz"), 30, "web")
        yield Stack(
            url, {"Authorization": f"Bearer {created.key}"}, env, db, created.tenant_id, chat
        )
    db.dispose()


def _answers(url: str) -> bool:
    try:
        return requests.get(url, timeout=1).status_code == 200
    except requests.RequestException:
        return False


def _local(path: str) -> Path:
    return Path(unquote(urlparse(path).path))


def test_phone_email_run_on_a_worker(stack: Stack, processes: Processes, sandbox: Any) -> None:
    processes.worker(stack.env)
    leads = make_leads(sandbox)
    accepted = stack.submit("phone-email", {"ids": leads, "max_credits": 100})
    wait_until(lambda: stack.status(accepted["run_id"])["status"] == "completed", 30, "run")
    done = stack.status(accepted["run_id"])
    assert (done["processed"], done["skipped"], done["credits_consumed"]) == (4, 1, 20)
    header, rows = read_csv(_local(accepted["result_path"]).read_bytes())
    assert header == [
        "company_name",
        "company_url",
        "first_name",
        "id",
        "last_name",
        "linkedin",
        "email",
        "email_found",
        "phone_number",
        "phone_found",
    ]
    assert {r["id"] for r in rows} == set(leads[:4])
    c_header, c_rows = read_csv(_local(accepted["credits_csv_path"]).read_bytes())
    assert c_header == ["id", "credits_spent", "provider", "outcome"] and len(c_rows) == 5


def test_killed_worker_run_resumes_without_double_charges(
    stack: Stack, processes: Processes, sandbox: Any
) -> None:
    accounts = [
        sandbox.create(
            "Account", {"Name": f"Resume Co {n}", "Website": f"https://resume{n}.example"}
        )
        for n in range(6)
    ]
    first = processes.worker(stack.env)
    body = {"ids": accounts, "entity_type": "company", "effort": "low", "max_credits": 500}
    accepted = stack.submit("deep-research", body)
    run_id = accepted["run_id"]
    wait_until(lambda: stack.status(run_id)["processed"] >= 2, 30, "two records researched")
    processes.kill(first, signal.SIGKILL)
    halfway = stack.status(run_id)
    assert halfway["status"] == "running" and 2 <= halfway["processed"] < 6
    charged_before = stack.debits(run_id)
    processes.worker(stack.env)
    # What the beat job does every minute: republish runs gone silent (here: every second).
    deadline = time.monotonic() + 60
    while stack.status(run_id)["status"] != "completed":
        assert time.monotonic() < deadline, stack.status(run_id)
        publish(stack.env, "agents.resume_stale")
        time.sleep(1.0)
    done = stack.status(run_id)
    assert done["processed"] == 6 and done["errors"] == 0
    debits = stack.debits(run_id)
    assert set(debits) == set(accounts) and set(debits.values()) == {1}  # once each
    assert all(debits[a] == 1 for a in charged_before)
    _, c_rows = read_csv(_local(accepted["credits_csv_path"]).read_bytes())
    assert sum(int(r["credits_spent"]) for r in c_rows) == done["credits_consumed"]
    header, rows = read_csv(_local(accepted["result_path"]).read_bytes())
    assert header[0] == "id" and [r["id"] for r in rows] == accounts
    # Each record's question names its account; records settled before the kill were asked
    # exactly once, and only the one in flight at the kill may have been asked again.
    asked = Counter(
        n
        for m in stack.chat.requests
        for n in range(6)
        if f"company_name: Resume Co {n};" in m["messages"][1]["content"]
    )
    assert len(stack.chat.requests) == sum(asked.values())  # every question is one record's
    assert all(asked[accounts.index(a)] == 1 for a in charged_before), (asked, charged_before)
    assert set(asked) == set(range(6)) and sum(asked.values()) <= 6 + 1, asked
    assert credits.remaining(stack.db, stack.tenant_id) == 10_000 - done["credits_consumed"]
