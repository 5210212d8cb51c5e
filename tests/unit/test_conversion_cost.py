"""What a conversion costs follows the policy the service runs: one rule decides whether a
pre-check runs (a match policy with both sides null runs none), and the price follows it."""

from __future__ import annotations

from typing import Any

import pytest

from bridge.conversion.factory import policy_from_request
from bridge.conversion.models import ConvertRequest
from bridge.salesforce.ids import to_18

LEAD = to_18("00Q000000000001")
CONTACT = {"by": ["email:eq"], "create_if_no_match": True}
ACCOUNT = {"by": ["domain:eq"], "create_if_no_match": True}


@pytest.mark.parametrize(
    "extra, matching, cost",
    [
        ({}, False, 3),
        ({"match_policy": {"contact": None, "account": None}}, False, 3),
        ({"match_policy": {}}, True, 5),  # both sides with their default rules
        ({"match_policy": {"contact": CONTACT}}, True, 5),
        ({"match_policy": {"account": ACCOUNT}}, True, 5),
        ({"set_owner_round_robin_pool": "inbound"}, False, 4),
        ({"match_policy": {"contact": CONTACT, "account": ACCOUNT},
          "set_owner_round_robin_pool": "inbound"}, True, 6),
    ],
)  # fmt: skip
def test_cost_follows_the_policy_that_runs(
    extra: dict[str, Any], matching: bool, cost: int
) -> None:
    policy = policy_from_request(ConvertRequest.model_validate({"lead_sf_id": LEAD, **extra}))
    assert (policy.matching, policy.cost) == (matching, cost)


def test_the_request_model_holds_no_second_copy_of_the_rule() -> None:
    # The price is computed from the Policy the service runs, never from the request body.
    assert not hasattr(ConvertRequest, "matching") and not hasattr(ConvertRequest, "cost")
