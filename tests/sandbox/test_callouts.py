"""The emulated Apex triggers: signed callouts, grouping, retries, outages."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest
from simple_salesforce import Salesforce
from standardwebhooks import Webhook

from sandbox.testing import SandboxProcess
from tests.sandbox.conftest import CALLOUT_API_KEY, CALLOUT_SECRET, CalloutReceiver, Received


def _has(record_id: str, event: str | None = None) -> object:
    def check(r: Received) -> bool:
        return record_id in r.payload["ids"] and (event is None or r.payload["event"] == event)

    return check


@pytest.fixture
def restore_callouts(sandbox: SandboxProcess, receiver: CalloutReceiver) -> Iterator[None]:
    yield
    receiver.fail_next = 0
    sandbox.set_callouts(enabled=True, drop_rate=0.0, url=receiver.url,
                         objects=["Lead", "Contact", "Account", "Opportunity"])  # fmt: skip


def test_insert_callout_is_signed(
    sf: Salesforce, sandbox: SandboxProcess, receiver: CalloutReceiver
) -> None:
    lead_id = sf.Lead.create({"LastName": "Hook", "Company": "Hook Co"})["id"]
    (hit,) = receiver.wait_for(_has(lead_id))
    assert hit.payload == {"object": "Lead", "ids": [lead_id], "event": "after_insert",
                           "org_id": sandbox.org_id}  # fmt: skip
    assert hit.headers["Authorization"] == f"Bearer {CALLOUT_API_KEY}"
    assert hit.headers["Content-Type"] == "application/json"
    verified = Webhook(CALLOUT_SECRET).verify(hit.body.decode(), hit.headers)
    assert verified["ids"] == [lead_id]
    assert hit.headers["webhook-signature"].startswith("v1,")
    with pytest.raises(Exception):  # noqa: B017 - any verification error
        Webhook("whsec_" + "d3Jvbmctc2VjcmV0LXdyb25nLXNlY3JldA==").verify(
            hit.body.decode(), hit.headers
        )


def test_update_and_undelete_events(
    sf: Salesforce, sandbox: SandboxProcess, receiver: CalloutReceiver
) -> None:
    account_id = sf.Account.create({"Name": f"Evt {uuid.uuid4().hex[:6]}"})["id"]
    sf.Account.update(account_id, {"Phone": "1"})
    (update,) = receiver.wait_for(_has(account_id, "after_update"))
    assert update.payload["object"] == "Account"
    sf.Account.delete(account_id)
    assert sandbox.undelete([account_id])[0]["success"] is True
    (undelete,) = receiver.wait_for(_has(account_id, "after_undelete"))
    assert undelete.payload["ids"] == [account_id]
    assert sf.Account.get(account_id)["IsDeleted"] is False


def test_one_collection_call_groups_ids_max_100(sf: Salesforce, receiver: CalloutReceiver) -> None:
    records = [{"attributes": {"type": "Contact"}, "LastName": f"G{i}"} for i in range(150)]
    ids = [r["id"] for r in sf.restful("composite/sobjects", method="POST",
                                       json={"records": records})]  # fmt: skip
    hits = receiver.wait_for(lambda r: bool(set(r.payload["ids"]) & set(ids)), count=2)
    assert sorted(len(h.payload["ids"]) for h in hits) == [50, 100]
    assert sorted(i for h in hits for i in h.payload["ids"]) == sorted(ids)


def test_retries_with_same_webhook_id(
    sf: Salesforce, sandbox: SandboxProcess, receiver: CalloutReceiver, restore_callouts: None
) -> None:
    receiver.fail_next = 2
    lead_id = sf.Lead.create({"LastName": "Retry", "Company": "Retry Co"})["id"]
    hits = receiver.wait_for(_has(lead_id), count=3)
    assert len(hits) == 3
    assert [h.headers.get("x-answered") for h in hits] == ["500", "500", None]
    assert len({h.headers["webhook-id"] for h in hits}) == 1
    log = [e for e in sandbox.wait_for_callouts()["log"] if lead_id in e["ids"]]
    assert [e["outcome"] for e in log] == ["failed", "failed", "delivered"]


def test_outage_drop_and_switch_off(
    sf: Salesforce, sandbox: SandboxProcess, receiver: CalloutReceiver, restore_callouts: None
) -> None:
    before = sandbox.callouts()["stats"]
    sandbox.set_callouts(drop_rate=1.0)
    dropped = sf.Lead.create({"LastName": "Dropped", "Company": "D"})["id"]
    sandbox.set_callouts(drop_rate=0.0, enabled=False)
    off = sf.Lead.create({"LastName": "Off", "Company": "D"})["id"]
    sandbox.set_callouts(enabled=True, objects=["Lead"])
    account = sf.Account.create({"Name": "Not configured"})["id"]
    marker = sf.Lead.create({"LastName": "Marker", "Company": "D"})["id"]
    receiver.wait_for(_has(marker))
    sandbox.wait_for_callouts()
    assert not receiver.wait_for(_has(dropped), timeout=0.2)
    assert not receiver.wait_for(_has(off), timeout=0.1)
    assert not receiver.wait_for(_has(account), timeout=0.1)
    stats = sandbox.callouts()["stats"]
    assert stats["dropped"] == before["dropped"] + 1
    assert stats["suppressed"] == before["suppressed"] + 1


def test_integration_user_changes_fire_callouts(
    sandbox: SandboxProcess, receiver: CalloutReceiver
) -> None:
    # The bridge writes back as the integration user; the customer's trigger still fires,
    # so the bridge's loop guard has to skip these (LastModifiedById = integration user).
    sf = sandbox.salesforce()
    lead_id = sf.Lead.create({"LastName": "Loop", "Company": "Loop Co"})["id"]
    sf.Lead.update(lead_id, {"Match_Score__c": 0.9})
    assert receiver.wait_for(_has(lead_id, "after_update"))
    assert sf.Lead.get(lead_id)["LastModifiedById"] == sandbox.integration_user_id
