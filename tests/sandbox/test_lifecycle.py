"""A second sandbox process: restarts, the daily API budget, seeding through the CLI."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from simple_salesforce.exceptions import SalesforceRefusedRequest

from sandbox.testing import SandboxProcess, start_sandbox_process


@pytest.fixture(scope="module")
def own(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SandboxProcess]:
    process = start_sandbox_process(
        tmp_path_factory.mktemp("own"), api_daily_limit=100000, callouts_enabled=False
    )
    yield process
    process.stop()


def test_sandbox_json_and_files(own: SandboxProcess) -> None:
    info = json.loads((own.data_dir / "sandbox.json").read_text())
    assert info["instance_url"] == own.instance_url and info["instance_url"].startswith("https://")
    assert Path(info["ca_bundle"]).is_absolute() and Path(info["ca_bundle"]).exists()
    assert info["client_id"] == "sandbox-client" and info["client_secret"] == "sandbox-secret"
    assert info["org_id"].startswith("00D") and len(info["org_id"]) == 18
    assert info["integration_user_id"].startswith("005")
    assert info["username"] == "integration@sandbox.bridge.local"
    assert (own.data_dir / "sandbox.sqlite3").exists()


def test_data_survives_restart(own: SandboxProcess) -> None:
    token = own.token()
    sf = own.salesforce(token)
    lead_id = sf.Lead.create({"LastName": "Durable", "Company": "Disk Co"})["id"]
    ca_before = own.ca_bundle.read_bytes()
    port, org = own.port, own.org_id
    own.restart()
    assert own.port == port and own.org_id == org
    assert own.ca_bundle.read_bytes() == ca_before  # clients keep trusting the same CA
    again = own.salesforce(token)  # issued tokens survive too
    assert again.Lead.get(lead_id)["LastName"] == "Durable"
    assert again.Lead.create({"LastName": "After", "Company": "Disk Co"})["id"] > lead_id


def test_api_budget_runs_out(own: SandboxProcess) -> None:
    sf = own.salesforce()
    used = own.api_usage()["used"]
    own.set_api_limit(used + 3)
    try:
        for _ in range(3):
            sf.limits()
        assert sf.api_usage["api-usage"].used == used + 3
        with pytest.raises(SalesforceRefusedRequest) as caught:
            sf.query("SELECT COUNT() FROM Lead")
        assert caught.value.status == 403
        assert caught.value.content[0]["errorCode"] == "REQUEST_LIMIT_EXCEEDED"
        response = own.session().get(
            f"{own.instance_url}/services/data/v60.0/limits",
            headers={"Authorization": f"Bearer {own.token()}"},
        )
        assert response.status_code == 403
        assert response.headers["Sforce-Limit-Info"] == f"api-usage={used + 3}/{used + 3}"
    finally:
        own.set_api_limit(100000)
    assert sf.limits()["DailyApiRequests"]["Max"] == 100000


def test_seed_cli_while_running(own: SandboxProcess) -> None:
    command = [sys.executable, "-m", "sandbox", "seed", "--data-dir", str(own.data_dir),
               "--users", "12", "--accounts", "120", "--contacts", "200", "--leads", "300",
               "--seed", "5"]  # fmt: skip
    done = subprocess.run(command, capture_output=True, text=True, check=True, timeout=120)
    assert json.loads(done.stdout) == {"users": 12, "accounts": 120, "contacts": 200, "leads": 300}
    sf = own.salesforce()
    users = sf.query_all("SELECT Id, IsActive, Name, Email FROM User")["records"]
    assert any(not u["IsActive"] for u in users)
    accounts = sf.query_all("SELECT Name, Domain__c FROM Account")["records"]
    domains: dict[str, list[str]] = {}
    for a in accounts:
        domains.setdefault(a["Domain__c"], []).append(a["Name"])
    assert any(len(names) > 1 for names in domains.values())  # near-duplicate families
    suffixes = (" Inc", " GmbH", " Ltd", " LLC", " AG", " Corp")
    assert any(a["Name"].endswith(suffixes) for a in accounts)
    leads = sf.query_all("SELECT Email, Company, OwnerId, Owner.IsActive FROM Lead")["records"]
    assert len(leads) >= 300
    free_mail = ("@gmail.com", "@yahoo.com", "@hotmail.com", "@outlook.com", "@gmx.de",
                 "@web.de", "@icloud.com", "@aol.com", "@proton.me")  # fmt: skip
    assert any((lead["Email"] or "").endswith(free_mail) for lead in leads)
    assert any(lead["Owner"]["IsActive"] is False for lead in leads)  # owner who left
    contacts = sf.query_all("SELECT FirstName, LastName, AccountId FROM Contact")["records"]
    assert sum(1 for c in contacts if c["AccountId"]) > 150


def test_cli_help_and_default_serve() -> None:
    done = subprocess.run([sys.executable, "-m", "sandbox", "--help"], capture_output=True,
                          text=True, check=True)  # fmt: skip
    assert "serve" in done.stdout and "seed" in done.stdout
