"""The pipeline's convert step on a batch against the sandbox: one convertLead call for the
batch, leads converted into their matches, an owner per lead from the pool, a log per lead."""

from __future__ import annotations

import uuid
from collections import Counter

import pytest
import redis

from bridge.conversion.step import ConvertStep, build_step
from bridge.db import Database
from bridge.logs.tables import RouteLog
from bridge.pipeline import Pipeline
from bridge.pipeline_config import PipelineConfig, StepDeps
from bridge.salesforce.gateway import SalesforceGateway
from bridge.tenants import service as tenants
from bridge.triggers.dispatcher import Batch, BatchItem
from config.settings import Settings
from tests.integration.test_routing_fixtures import make_pool, two_active_users

OPTIONS = {
    "enabled": True,
    "object": "Lead",
    "match_policy": {
        "contact": {"by": ["email:eq", "name_company:fuzzy0.8"]},
        "account": {"by": ["domain:eq", "name:fuzzy0.8"]},
    },
    "set_owner_round_robin_pool": "converters",
}


def deps(sf_settings: Settings, gateway: SalesforceGateway, client: redis.Redis,
         db: Database) -> StepDeps:  # fmt: skip
    return StepDeps(sf_settings, gateway, client, db, PipelineConfig())


def test_step_is_off_unless_enabled(sf_settings, gateway, client, db) -> None:
    assert build_step({"object": "Lead"}, deps(sf_settings, gateway, client, db)) is None
    off = {**OPTIONS, "object": "Contact"}
    assert build_step(off, deps(sf_settings, gateway, client, db)) is None
    with pytest.raises(ValueError, match="on_contact_match"):
        build_step({**OPTIONS, "merge_policy": {"on_contact_match": "x"}},
                   deps(sf_settings, gateway, client, db))  # fmt: skip


def test_convert_step_on_a_batch(sf_settings, gateway, client, db, sandbox) -> None:
    tag = uuid.uuid4().hex[:8]
    tenant = tenants.create_key(db, "acme").tenant_id
    tenants.add_org(db, "acme", sandbox.org_id)  # the match index is built for the org's tenant
    a, b = two_active_users(sandbox, 4, 33)
    make_pool(db, tenant, "converters", [{"user_id": a}, {"user_id": b}])
    accounts, contacts, leads = [], [], []
    for i in range(3):  # near-duplicates of existing contacts
        acc = sandbox.create("Account", {"Name": f"Orbis{i}{tag} GmbH",
                                         "Website": f"orbis{i}{tag}.de"})  # fmt: skip
        contacts.append(sandbox.create("Contact", {"FirstName": "Jan", "LastName": f"Berg{i}{tag}",
                                                   "Email": f"jan@orbis{i}{tag}.de",
                                                   "AccountId": acc}))  # fmt: skip
        accounts.append(acc)
        leads.append(sandbox.create("Lead", {"FirstName": "Jan", "LastName": f"Berg{i}{tag}",
                                             "Company": f"Orbiss{i}{tag}",
                                             "Email": f"jan@orbis{i}{tag}.de"}))  # fmt: skip
    fresh = [sandbox.create("Lead", {"LastName": f"New{i}{tag}", "Company": f"Fresh{i}{tag}"})
             for i in range(2)]  # fmt: skip
    step = build_step(OPTIONS, deps(sf_settings, gateway, client, db))
    assert isinstance(step, ConvertStep)
    pipeline = Pipeline(gateway, client, integration_user_id=None, steps={"Lead": [step]})
    ids = [*leads, *fresh]
    before = gateway.calls_by_operation.get("convert_leads", 0)
    pipeline.process(Batch(tenant, "Lead", [BatchItem(i, f"req-{i[-6:]}", "poll",
                                                      "after_insert") for i in ids]))  # fmt: skip
    assert gateway.calls_by_operation.get("convert_leads", 0) - before == 1  # one SOAP call
    fields = ["Id", "IsConverted", "ConvertedAccountId", "ConvertedContactId", "OwnerId"]
    state = {r["Id"]: r for r in gateway.fetch("Lead", ids, fields)}
    assert all(state[i]["IsConverted"] for i in ids)
    for lead, acc, con in zip(leads, accounts, contacts, strict=True):
        assert (state[lead]["ConvertedAccountId"], state[lead]["ConvertedContactId"]) == (acc, con)
    for lead in fresh:  # no match: new records
        assert state[lead]["ConvertedAccountId"] not in accounts
    assert Counter(state[i]["OwnerId"] for i in ids) == {a: 3, b: 2}
    with db.session() as session:
        entries = list(session.query(RouteLog).filter(RouteLog.tenant_id == tenant))
    converts = {e.object_id: e for e in entries if e.action == "convert"}
    assert set(converts) == set(ids)
    assert sorted(e.sequence for e in converts.values()) == [1, 2, 3, 4, 5]
    assert converts[leads[0]].request_id == f"req-{leads[0][-6:]}"
    assert converts[leads[0]].diff["Contact"]["created"] is False
    assert converts[fresh[0]].diff["Contact"]["created"] is True
    merges = [e for e in entries if e.action == "merge" and e.object == "Contact"]
    assert {e.object_id for e in merges} == set(contacts)
    assert len([e for e in entries if e.action == "assign"]) == 5
    # The same batch again: every lead is already converted, nothing is called or logged.
    pipeline.process(Batch(tenant, "Lead", [BatchItem(i, "again", "poll", "after_update")
                                            for i in ids]))  # fmt: skip
    assert gateway.calls_by_operation.get("convert_leads", 0) - before == 1


def test_a_refused_lead_fails_alone_and_the_batch_is_logged(
    sf_settings, gateway, client, db, sandbox
) -> None:
    tag = uuid.uuid4().hex[:8]
    tenant = tenants.create_key(db, "acme").tenant_id
    tenants.add_org(db, "acme", sandbox.org_id)
    a, b = two_active_users(sandbox, 4, 34)
    make_pool(db, tenant, "converters", [{"user_id": a}, {"user_id": b}])
    ids = [sandbox.create("Lead", {"LastName": f"Lock{i}{tag}", "Company": f"Lock{i}{tag}"})
           for i in range(3)]  # fmt: skip
    step = build_step(OPTIONS, deps(sf_settings, gateway, client, db))
    assert isinstance(step, ConvertStep)
    pipeline = Pipeline(gateway, client, integration_user_id=None, steps={"Lead": [step]})
    # The first lead of every convertLead call stays locked past the gateway's retries.
    sandbox.add_fault(kind="UNABLE_TO_LOCK_ROW_RECORDS", path="/Soap/", record_indexes=[0])
    try:
        result = pipeline.process(
            Batch(tenant, "Lead", [BatchItem(i, f"req-{i[-6:]}", "poll", "after_insert")
                                   for i in ids])
        )
    finally:
        sandbox.clear_faults()
    assert result.failed == 1
    fields = ["Id", "IsConverted"]
    state = {r["Id"]: r["IsConverted"] for r in gateway.fetch("Lead", ids, fields)}
    assert state == {ids[0]: False, ids[1]: True, ids[2]: True}
    with db.session() as session:
        entries = list(session.query(RouteLog).filter(RouteLog.tenant_id == tenant))
    logged = {(e.action, e.object_id) for e in entries if e.object == "Lead"}
    assert ("error", ids[0]) in logged
    assert {("convert", ids[1]), ("convert", ids[2])} <= logged
    assert {e.object_id for e in entries if e.action == "assign"} == {ids[1], ids[2]}
