"""The cascade with the offline provider and the upstream provider against a local server
speaking the documented protocol: order, confidence, GDPR, 429, 402, max_credits, cache."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from typing import Any

import pytest
import redis

from bridge.enrichment.cache import ResultCache
from bridge.enrichment.cascade import Cascade, CascadeConfig
from bridge.enrichment.providers.offline import OfflineProvider
from bridge.enrichment.providers.upstream import UpstreamProvider
from bridge.enrichment.results import Subject
from bridge.enrichment.service import EnrichmentService
from bridge.enrichment.spend import SpendLedger
from tests.integration.test_enrich_upstream_server import RunningUpstream, UpstreamServer


@pytest.fixture
def upstream() -> Iterator[UpstreamServer]:
    server = UpstreamServer(balance=100)
    server.add_person(
        "Grace",
        "Hopper",
        "navy.mil",
        title="Rear Admiral",
        phone="+12025550100",
        email="grace@navy.mil",
        linkedin_url="https://linkedin.com/in/grace",
    )
    server.add_person("Marie", "Curie", "sorbonne.fr", title="Professor", phone="+33140000000")
    with RunningUpstream(server):
        yield server


def provider(server: UpstreamServer, **kw: object) -> UpstreamProvider:
    waits: list[float] = []
    p = UpstreamProvider(server.url, server.api_key, sleep=waits.append, **kw)  # type: ignore[arg-type]
    p.waits = waits  # type: ignore[attr-defined]
    return p


GRACE = {
    "first_name": "Grace",
    "last_name": "Hopper",
    "email": "grace.hopper@navy.mil",
    "phone": "202-555-0100",
    "country": "US",
}


def test_offline_first_then_upstream_for_what_offline_cannot_give(upstream) -> None:
    cascade = Cascade(
        [OfflineProvider(), provider(upstream)], CascadeConfig(order={"title": ("upstream",)})
    )
    result = cascade.run(Subject.of("person", "00Q1", GRACE), ["phone", "title", "email"], 5)
    assert result.values["phone"].provider == "offline"  # derived, no credits needed
    assert result.values["phone"].value == "+12025550100"
    assert result.values["title"].provider == "upstream"
    assert result.values["title"].value == "Rear Admiral"
    assert result.values["title"].confidence == 0.9
    assert len(upstream.seen("person")) == 1  # one call served every field waiting on it
    assert upstream.seen("person")[0]["max_credits"] == 5
    assert result.credits == 4 and result.spent_by == {"upstream": 4}


def test_low_confidence_answer_falls_through_to_the_next_provider(upstream) -> None:
    config = CascadeConfig(
        default_order=("offline", "upstream"), field_min_confidence={"website": 0.8}
    )
    upstream.companies["navy.mil"] = {"name": "US Navy", "domain": "navy.mil"}
    cascade = Cascade([OfflineProvider(), provider(upstream)], config)
    result = cascade.run(Subject.of("person", "00Q2", GRACE), ["website", "company_domain"], 10)
    # offline derives website from a business email at 0.7 (< 0.8) and domain at 0.8 (kept).
    assert result.values["company_domain"].provider == "offline"
    assert "website" not in result.values  # upstream has no website field: nothing invented


def test_eu_people_only_get_gdpr_safe_providers(upstream) -> None:
    marie = {
        "first_name": "Marie",
        "last_name": "Curie",
        "email": "marie@sorbonne.fr",
        "phone": "+33 1 40 00 00 00",
    }
    cascade = Cascade([OfflineProvider(), provider(upstream)])
    result = cascade.run(Subject.of("person", "00Q3", marie), ["phone", "title"], 5)
    assert result.gdpr_restricted and result.skipped == {"upstream": "gdpr"}
    assert result.values["phone"].provider == "offline" and "title" not in result.values
    assert upstream.seen() == []  # the upstream never heard of her
    safe = Cascade([OfflineProvider(), provider(upstream, gdpr_safe=True)])
    assert safe.run(Subject.of("person", "00Q3", marie), ["title"], 5).value("title") == "Professor"


def test_short_429_is_waited_out_long_429_skips_the_provider_until_then(upstream) -> None:
    up = provider(upstream, max_retry_wait=2.0)
    cascade = Cascade([OfflineProvider(), up], CascadeConfig(order={"title": ("upstream",)}))
    upstream.script(429, retry_after=1.5)
    first = cascade.run(Subject.of("person", "a", GRACE), ["title"], 5)
    assert first.value("title") == "Rear Admiral" and up.waits == [1.5]  # type: ignore[attr-defined]
    upstream.script(429, retry_after=120)
    second = cascade.run(Subject.of("person", "b", GRACE), ["title", "phone"], 5)
    assert second.skipped == {"upstream": "rate_limited"} and "title" not in second.values
    assert second.value("phone") == "+12025550100"  # the rest of the record still enriched
    calls = len(upstream.requests)
    third = cascade.run(Subject.of("person", "c", GRACE), ["title"], 5)
    assert third.skipped == {"upstream": "rate_limited"}
    assert len(upstream.requests) == calls  # paused: no call until retry_after has passed


def test_402_stops_spending_and_the_record_keeps_its_offline_values(upstream) -> None:
    upstream.balance = 3  # a person lookup costs 4
    cascade = Cascade(
        [OfflineProvider(), provider(upstream)], CascadeConfig(order={"title": ("upstream",)})
    )
    result = cascade.run(Subject.of("person", "a", GRACE), ["title", "phone"], 5)
    assert result.skipped == {"upstream": "out_of_credits"} and result.credits == 0
    assert result.value("phone") == "+12025550100"
    before = len(upstream.requests)
    cascade.run(Subject.of("person", "b", GRACE), ["title"], 5)
    assert len(upstream.requests) == before  # cooling down after a 402


def test_max_credits_caps_what_upstream_may_spend(upstream) -> None:
    cascade = Cascade(
        [OfflineProvider(), provider(upstream)], CascadeConfig(order={"title": ("upstream",)})
    )
    result = cascade.run(Subject.of("person", "a", GRACE), ["title"], 0)
    assert upstream.seen() == [] and "title" not in result.values  # no budget, no call
    result = cascade.run(Subject.of("person", "a", GRACE), ["title"], 2)
    assert upstream.seen("person")[0]["max_credits"] == 2 and result.credits == 2


def test_service_caches_per_tenant_and_records_upstream_spend(upstream, redis_url) -> None:
    client = redis.Redis.from_url(redis_url)
    cascade = Cascade(
        [OfflineProvider(), provider(upstream)], CascadeConfig(order={"title": ("upstream",)})
    )
    service = EnrichmentService(cascade, cache=ResultCache(client, 60), ledger=SpendLedger(client))
    subject = Subject.of("person", "00Q9", GRACE)
    first = service.enrich(1, "sf:Lead", subject, ["title"], budget=5)
    assert not first.cached and first.credits == 4
    again = service.enrich(1, "sf:Lead", subject, ["title"], budget=5)
    assert again.cached and again.credits == 0 and again.value("title") == "Rear Admiral"
    assert len(upstream.seen()) == 1
    other_tenant = service.enrich(2, "sf:Lead", subject, ["title"], budget=5)
    assert not other_tenant.cached
    changed = Subject.of("person", "00Q9", {**GRACE, "email": "gh@navy.mil"})
    assert not service.enrich(1, "sf:Lead", changed, ["title"], budget=5).cached
    assert SpendLedger(client).spent(1) == {"upstream": 8} and SpendLedger(client).spent(2) == {
        "upstream": 4
    }
    client.close()


def test_upstream_is_asked_once_for_every_field_that_may_reach_it(upstream) -> None:
    # A lead with a name and a website but no phone or email: offline can give neither, so
    # both fall through to upstream, one after the other; one person call must serve both.
    lead = {"first_name": "Grace", "last_name": "Hopper", "website": "https://www.navy.mil"}
    cascade = Cascade([OfflineProvider(), provider(upstream)])
    result = cascade.run(Subject.of("person", "00Q5", lead), ["phone", "email", "title"], 20)
    assert result.value("phone") == "+12025550100" and result.value("email") == "grace@navy.mil"
    assert result.value("title") == "Rear Admiral"
    assert len(upstream.seen("person")) == 1 and upstream.seen() == upstream.seen("person")
    assert result.credits == 4


def spied(p: Any, asked: list[tuple[str, frozenset[str]]]) -> Any:
    """`p`, noting in `asked` which fields each of its lookups was about."""
    lookup = p.lookup

    def spy(subject: Subject, wanted: frozenset[str], budget: int) -> Any:
        asked.append((p.name, wanted))
        return lookup(subject, wanted, budget)

    p.lookup = spy
    return p


def test_crossed_orders_ask_the_first_fields_provider_and_accept_in_each_fields_order(
    upstream,
) -> None:
    # No provider comes after the other in both orders: the first pending field's (title's)
    # upstream is asked first, its one call covering phone too; phone still takes offline's
    # answer, ahead in its own order (upstream knows another number for her).
    asked: list[tuple[str, frozenset[str]]] = []
    providers = [spied(OfflineProvider(), asked), spied(provider(upstream), asked)]
    crossed = {"title": ("upstream", "offline"), "phone": ("offline", "upstream")}
    cascade = Cascade(providers, CascadeConfig(order=crossed))
    record = {**GRACE, "phone": "202-555-0199"}
    result = cascade.run(Subject.of("person", "00QC", record), ["title", "phone"], 5)
    assert asked == [("upstream", {"title", "phone"}), ("offline", {"phone"})]
    assert len(upstream.seen()) == 1 and result.spent_by == {"upstream": 4}
    assert result.values["title"].provider == "upstream"
    assert result.value("title") == "Rear Admiral"
    assert result.values["phone"].provider == "offline"
    assert result.value("phone") == "+12025550199"


def _closed_port_url() -> str:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return f"http://127.0.0.1:{sock.getsockname()[1]}"


def test_answer_missing_upstream_while_it_is_down_is_not_cached(upstream, redis_url) -> None:
    client = redis.Redis.from_url(redis_url)
    up = provider(upstream)
    up.base_url = _closed_port_url()  # nothing listens there: connection refused
    cascade = Cascade([OfflineProvider(), up], CascadeConfig(order={"title": ("upstream",)}))
    service = EnrichmentService(cascade, cache=ResultCache(client, 60))
    subject = Subject.of("person", "00Q7", GRACE)
    down = service.enrich(1, "sf:Lead", subject, ["title", "phone"], budget=5)
    assert down.skipped["upstream"].startswith("unreachable") and "title" not in down.values
    up.base_url = upstream.url  # back up: the next call asks again instead of a cached null
    upstream.script(503)
    failing = service.enrich(1, "sf:Lead", subject, ["title", "phone"], budget=5)
    assert failing.skipped == {"upstream": "upstream_error_503"} and not failing.cached
    answered = service.enrich(1, "sf:Lead", subject, ["title", "phone"], budget=5)
    assert not answered.cached and answered.value("title") == "Rear Admiral"
    assert service.enrich(1, "sf:Lead", subject, ["title", "phone"], budget=5).cached
    client.close()


def test_phone_search_respects_the_budget(upstream) -> None:
    linked = {"first_name": "Grace", "last_name": "Hopper", "linkedin_id": "grace"}
    cascade = Cascade([OfflineProvider(), provider(upstream)])
    broke = cascade.run(Subject.of("person", "00Q8", linked), ["phone"], 0)
    assert upstream.seen() == [] and "phone" not in broke.values and broke.credits == 0
    cascade.run(Subject.of("person", "00Q8", linked), ["phone"], 3)
    assert upstream.seen("phone")[0]["max_credits"] == 3


def test_paid_email_search_is_kept_when_the_phone_search_then_fails(upstream, redis_url) -> None:
    upstream.company_domains["us navy"] = "navy.mil"
    upstream.script(503, endpoint="phone")
    client = redis.Redis.from_url(redis_url)
    cascade = Cascade([OfflineProvider(), provider(upstream)])
    service = EnrichmentService(cascade, cache=ResultCache(client, 60), ledger=SpendLedger(client))
    named = {"first_name": "Grace", "last_name": "Hopper", "company": "US Navy"}
    subject = Subject.of("person", "00QA", named)
    result = service.enrich(3, "sf:Lead", subject, ["email", "phone"], budget=10)
    assert result.value("email") == "grace@navy.mil" and "phone" not in result.values
    assert result.skipped == {"upstream": "upstream_error_503"}
    assert result.credits == 5 and result.spent_by == {"upstream": 5}
    assert SpendLedger(client).spent(3) == {"upstream": 5}  # the paid search is recorded
    assert upstream.seen("phone")[0]["email"] == "grace@navy.mil"
    again = service.enrich(3, "sf:Lead", subject, ["email", "phone"], budget=10)
    assert not again.cached and again.value("phone") == "+12025550100"  # partial: not cached
    client.close()


def test_phone_search_by_name_and_company_without_an_email_search(upstream) -> None:
    upstream.company_domains["us navy"] = "navy.mil"
    named = {"first_name": "Grace", "last_name": "Hopper", "company": "US Navy"}
    cascade = Cascade([OfflineProvider(), provider(upstream)])
    result = cascade.run(Subject.of("person", "00QB", named), ["phone"], 20)
    assert result.value("phone") == "+12025550100" and "email" not in result.values
    assert upstream.seen("email") == [] and len(upstream.seen("phone")) == 1
    assert result.credits == 5
