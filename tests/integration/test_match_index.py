"""The match index on real Redis and the sandbox: persisted, shared between processes' copies,
and kept current after Salesforce changes (polling refresh and the pipeline's match step)."""

from __future__ import annotations

import uuid
from typing import Any

import pytest

from bridge.db import Database
from bridge.matching import loader
from bridge.matching.engine import match_in_index
from bridge.matching.profiles import build_profile
from bridge.matching.rules import parse_rules
from bridge.matching.service import IndexUnavailable, MatchService
from bridge.matching.step import MatchStep
from bridge.matching.store import IndexRegistry, IndexStore
from bridge.pipeline import Pipeline
from bridge.salesforce.gateway import SalesforceGateway
from bridge.tenants import service as tenants
from bridge.triggers.dispatcher import Batch, BatchItem
from bridge.writeback.policy import FieldMapping, Policy
from config.settings import Settings
from tests.conftest import with_sandbox

TENANT = 7


@pytest.fixture
def gateway(sandbox: Any, settings: Settings) -> SalesforceGateway:
    gw = SalesforceGateway.from_settings(with_sandbox(settings, sandbox))
    yield gw
    gw.close()


def found(
    registry: IndexRegistry, tenant: int, sobject: str, candidate: dict, rules: str
) -> list[str]:
    index = registry.get(tenant)
    assert index is not None
    profile = build_profile(candidate, sobject)
    return [m.id for m in match_in_index(profile, index.objects[sobject], parse_rules(rules))]


def test_changes_reach_every_process_copy_and_a_trimmed_stream_reloads(client) -> None:
    store = IndexStore(client)
    web, worker = IndexRegistry(store), IndexRegistry(store)
    assert web.get(TENANT) is None  # never built
    store.replace_all(TENANT, {"account": [{"Id": "001A", "Name": "Acme", "Website": "acme.com"}]})
    assert found(web, TENANT, "account", {"website": "acme.com"}, "domain:eq") == ["001A"]
    store.upsert(TENANT, "Account", [{"Id": "001B", "Name": "Globex", "Website": "globex.com"}])
    store.remove(TENANT, "Account", ["001A"])
    assert found(web, TENANT, "account", {"website": "globex.com"}, "domain:eq") == ["001B"]
    assert found(web, TENANT, "account", {"website": "acme.com"}, "domain:eq") == []
    assert found(worker, TENANT, "account", {"website": "globex.com"}, "domain:eq") == ["001B"]
    # Lose the stream between two reads: the gap in sequence numbers forces a full reload.
    store.upsert(TENANT, "Account", [{"Id": "001C", "Name": "Initech", "Website": "initech.io"}])
    client.delete(f"bridge:matching:{TENANT}:changes")
    store.upsert(TENANT, "Account", [{"Id": "001D", "Name": "Hooli", "Website": "hooli.com"}])
    assert found(web, TENANT, "account", {"website": "initech.io"}, "domain:eq") == ["001C"]
    assert found(web, TENANT, "account", {"website": "hooli.com"}, "domain:eq") == ["001D"]
    # A full rebuild (new generation) replaces everything.
    store.replace_all(TENANT, {"account": [{"Id": "001E", "Name": "Umbrella", "Website": "u.com"}]})
    assert found(web, TENANT, "account", {"website": "hooli.com"}, "domain:eq") == []
    assert web.get(TENANT).counts()["account"] == 1


def test_index_stays_current_after_sandbox_updates(sandbox, client, gateway) -> None:
    tag = uuid.uuid4().hex[:8]
    acct = sandbox.create("Account", {"Name": f"Zephyr{tag} Inc", "Website": f"zephyr{tag}.com",
                                      "Phone": "415 555 0142"})  # fmt: skip
    ada = {"FirstName": "Ada", "LastName": f"L{tag}", "Email": f"ada@zephyr{tag}.com"}
    contact = sandbox.create("Contact", {**ada, "AccountId": acct})
    store, registry = IndexStore(client), IndexRegistry(IndexStore(client))
    counts = loader.rebuild(store, TENANT, gateway)
    assert counts["account"] >= 1 and counts["contact"] >= 1
    assert found(registry, TENANT, "account", {"website": f"zephyr{tag}.com"}, "domain:eq") == [
        acct
    ]
    stats = registry.get(TENANT).stats("account", acct)
    assert stats.contacts == 1

    # The org changes: a rename, a new lead, a deletion. The polling refresh applies them.
    sandbox.update("Account", acct, {"Name": f"Aurora{tag} Ltd", "Website": f"aurora{tag}.io"})
    lead = sandbox.create("Lead", {"LastName": f"Babbage{tag}", "Company": "Engines",
                                   "Email": f"charles@engines{tag}.com"})  # fmt: skip
    gateway.delete([contact])
    applied = loader.refresh(store, TENANT, gateway)
    assert applied["account"] >= 1 and applied["lead"] >= 1 and applied["contact"] >= 1
    assert found(registry, TENANT, "account", {"website": f"zephyr{tag}.com"}, "domain:eq") == []
    assert found(registry, TENANT, "account", {"name": f"Aurora{tag}"}, "name:eq") == [acct]
    assert found(registry, TENANT, "lead", {"email": f"charles@engines{tag}.com"}, "email:eq") == [
        lead
    ]
    assert registry.get(TENANT).get("contact", contact) is None
    assert registry.get(TENANT).stats("account", acct).contacts == 0


def test_pipeline_match_step_keeps_index_current_and_proposes_the_account(
    sandbox, client, gateway, db: Database
) -> None:
    TENANT = tenants.create_key(db, "pipeline").tenant_id
    tag = uuid.uuid4().hex[:8]
    acct = sandbox.create(
        "Account", {"Name": f"Quasar{tag} Holdings", "Website": f"quasar{tag}.com"}
    )
    store = IndexStore(client)
    registry = IndexRegistry(store)
    service = MatchService(registry.get)
    loader.rebuild(store, TENANT, gateway)
    step = MatchStep(service, store, db, lead_to_account=parse_rules("domain:eq | name:eq"),
                     duplicates=parse_rules("email:eq"))  # fmt: skip
    write_back = {"Lead": {
        "matched_account_id": FieldMapping("matched_account_id", "Matched_Account__c",
                                           Policy.OVERWRITE),
        "match_score": FieldMapping("match_score", "Match_Score__c", Policy.OVERWRITE),
    }}  # fmt: skip
    pipeline = Pipeline(gateway, client, integration_user_id=None, steps={
        "Lead": [step], "Account": [step], "Contact": [step],
    }, write_back=write_back, db=db)  # fmt: skip
    # An account created after the full load arrives through the pipeline: indexed at once.
    late = sandbox.create("Account", {"Name": f"Nebula{tag}", "Website": f"nebula{tag}.org"})
    pipeline.process(Batch(TENANT, "Account", [BatchItem(late, "r1", "webhook", "after_insert")]))
    lead = sandbox.create("Lead", {"LastName": "Hopper", "Company": f"Nebula{tag}",
                                   "Email": f"grace@nebula{tag}.org"})  # fmt: skip
    other = sandbox.create("Lead", {"LastName": "Hopper", "Company": f"Quasar{tag} Holdings",
                                    "Email": f"grace@quasar{tag}.com"})  # fmt: skip
    dupe = sandbox.create("Lead", {"LastName": "Hopper", "Company": "X",
                                   "Email": f"grace@quasar{tag}.com"})  # fmt: skip
    items = [BatchItem(i, "r2", "webhook", "after_insert") for i in (lead, other, dupe)]
    pipeline.process(Batch(TENANT, "Lead", items))
    fields = ["Id", "Matched_Account__c", "Match_Score__c"]
    rows = {r["Id"]: r for r in gateway.fetch("Lead", [lead, other, dupe], fields)}
    # Written back through the configured mapping, and logged with the explanation.
    assert rows[lead]["Matched_Account__c"] == late and rows[lead]["Match_Score__c"] >= 99
    assert rows[other]["Matched_Account__c"] == acct
    from sqlalchemy import select

    from bridge.logs.tables import RouteLog

    with db.session() as session:
        logs = session.execute(select(RouteLog).where(RouteLog.action == "match")).scalars().all()
        by_record = {}
        for log in logs:
            by_record.setdefault(log.object_id, []).append(log)
    assert rows  # the leads exist
    account_logs = {rid: [lg for lg in lgs if (lg.diff or {}).get("kind") == "account"]
                    for rid, lgs in by_record.items()}  # fmt: skip
    assert account_logs[lead][0].diff["match_id"] == late
    assert account_logs[other][0].diff["match_id"] == acct
    assert "domain" in account_logs[lead][0].reason
    dupes = [lg for lg in by_record[dupe] if (lg.diff or {}).get("kind") == "duplicate"]
    assert dupes and dupes[0].diff["match_id"] == other


def test_service_without_index_says_so(client) -> None:
    service = MatchService(IndexRegistry(IndexStore(client)).get)
    with pytest.raises(IndexUnavailable):
        service.index_for(12345)


def test_build_on_first_use_only_for_the_org_owner(sandbox, client, settings, db) -> None:
    from bridge.matching.factory import build_service
    from bridge.salesforce.lazy import lazy_gateway

    sb = with_sandbox(settings, sandbox)
    owner = tenants.create_key(db, "owner")
    stranger = tenants.create_key(db, "stranger")
    tenants.add_org(db, "owner", sandbox.org_id)
    service, store = build_service(sb, client, db, lazy_gateway(sb))
    assert store.generation(owner.tenant_id) is None
    index = service.index_for(owner.tenant_id)  # built from the org now
    assert store.generation(owner.tenant_id) == 1 and len(index) > 0
    with pytest.raises(IndexUnavailable):
        service.index_for(stranger.tenant_id)
