"""An upstream enrichment API speaking the documented protocol on its own base URL with its
own key. Which endpoint answers what: `person` when a name and a company domain are known (from
the record's domain, website or email); else `email` (name + company name) when an email is
wanted, and `phone` (name + company, LinkedIn id or email: the documented inputs) when a phone
is; `company` for firmographics. Fields not wanted are never searched for.

Answers are untrusted: a value of the wrong type is dropped here, at the boundary, so it can
neither fail a documented response nor be cached. When a later call fails (5xx, 429, 402, down)
after an earlier one was paid, the paid part is kept (`ProviderUnavailable.partial`).

Spending: every call passes what is left of the record's budget as `max_credits` and the
`credits_consumed` it answers is counted. `429`: wait `retry_after` when that is short, else
skip the provider until then; `402`: skip it for a cool-down. Both without failing the record:
the cascade moves on to the next provider.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Mapping
from typing import Any

import requests
import structlog

from bridge.enrichment.derive import domains
from bridge.enrichment.providers import ProviderUnavailable
from bridge.enrichment.results import FieldValue, ProviderAnswer, Subject

log = structlog.get_logger(__name__)

PERSON_FIELDS = frozenset({
    "email", "email_status", "phone", "title", "linkedin_url", "job_last_seen_at",
})  # fmt: skip
COMPANY_FIELDS = frozenset({
    "company_name", "company_domain", "company_linkedin_url", "industry", "size_range",
    "hq_city", "hq_state", "hq_country", "hq_postal_code", "company_geo",
    "company_last_verified_at",
})  # fmt: skip
WORDS = {"high": 0.9, "medium": 0.7, "low": 0.4}
MAX_CREDITS_PER_CALL = 100  # the documented upper bound of `max_credits`


def _confidence(raw: Any, default: float) -> float:
    if isinstance(raw, str):
        return WORDS.get(raw.lower(), default)
    if isinstance(raw, int | float) and not isinstance(raw, bool) and 0 <= raw <= 1:
        return float(raw)
    return default


class UpstreamProvider:
    def __init__(
        self,
        base_url: str,
        api_key: str,
        *,
        name: str = "upstream",
        gdpr_safe: bool = False,
        timeout: float = 10.0,
        max_retry_wait: float = 5.0,
        out_of_credits_cooldown: float = 300.0,
        session: requests.Session | None = None,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.name = name
        self.gdpr_safe = gdpr_safe
        self.base_url = base_url.rstrip("/")
        self._api_key = api_key
        self.timeout = timeout
        self.max_retry_wait = max_retry_wait
        self.out_of_credits_cooldown = out_of_credits_cooldown
        self.session = session or requests.Session()
        self.session.trust_env = False  # no proxies from the environment for our own upstream
        self.sleep = sleep
        self.clock = clock
        self._paused_until = 0.0
        self._paused_reason = ""
        self._lock = threading.Lock()

    def supplies(self, kind: str) -> frozenset[str]:
        return PERSON_FIELDS | COMPANY_FIELDS if kind == "person" else COMPANY_FIELDS

    # -- the cascade's entry point ------------------------------------------------------------
    def lookup(self, subject: Subject, wanted: frozenset[str], budget: int) -> ProviderAnswer:
        self._check_paused()
        answer = ProviderAnswer()
        person_wanted = wanted & PERSON_FIELDS if subject.kind == "person" else frozenset()
        try:
            if person_wanted:
                self._person(subject, person_wanted, budget, answer)
            if wanted & COMPANY_FIELDS and budget - answer.credits > 0:
                self._company(subject, budget - answer.credits, answer)
        except ProviderUnavailable as exc:
            if answer.values or answer.credits:
                exc.partial = answer  # paid before the failure: keep it and its spend
            raise
        return answer

    def _person(
        self, subject: Subject, wanted: frozenset[str], budget: int, answer: ProviderAnswer
    ) -> None:
        get = subject.get
        domain = get("company_domain") or _domain_of(get("website")) or _domain_of(get("email"))
        named = bool(get("first_name") and get("last_name"))
        if named and domain:
            body = {"record_id": subject.record_id, "first_name": get("first_name"),
                    "last_name": get("last_name"), "company_domain": domain,
                    "email": get("email"), "linkedin_id": get("linkedin_id")}  # fmt: skip
            data = self._call("person", body, budget, answer)
            person = (data or {}).get("person")
            person = person if isinstance(person, dict) else {}
            overall = _confidence(data.get("confidence") if data else None, 0.7)
            for key in wanted:  # person fields only (lookup() intersected them)
                if value := _text(person.get(key)):
                    score = _confidence(person.get("email_confidence"), overall) if (
                        key == "email") else overall  # fmt: skip
                    answer.values[key] = FieldValue(value, self.name, score)
            return
        if "email" in wanted and named and get("company") and not get("email"):
            # The person lookup needs a domain; the email search takes a company name and
            # finds the domain itself.
            body = {"record_id": subject.record_id, "first_name": get("first_name"),
                    "last_name": get("last_name"), "company": get("company"),
                    "linkedin_id": get("linkedin_id")}  # fmt: skip
            data = self._call("email", body, budget - answer.credits, answer)
            if found := _text((data or {}).get("email")):
                score = _confidence(data.get("confidence") if data else None, 0.7)
                answer.values["email"] = FieldValue(found, self.name, score)
        # The phone search takes name + company itself (its primary method): no email search is
        # bought as a step towards a phone; an email it uses is the record's or one wanted.
        email = get("email") or (answer.values["email"].value if "email" in answer.values else None)
        if "phone" in wanted and (email or get("linkedin_id") or (named and get("company"))):
            body = {"record_id": subject.record_id, "first_name": get("first_name"),
                    "last_name": get("last_name"), "company": get("company"),
                    "email": email, "linkedin_id": get("linkedin_id"),
                    "domain": domain}  # fmt: skip
            data = self._call("phone", body, budget - answer.credits, answer) or {}
            score = _confidence(data.get("confidence"), 0.7)
            if phone := _text(data.get("phone")):
                answer.values["phone"] = FieldValue(phone, self.name, score)
            # Documented: the input email echoed, or one found on the way (paid by this call).
            if "email" in wanted and not email and (found := _text(data.get("email"))):
                answer.values["email"] = FieldValue(found, self.name, score)

    def _company(self, subject: Subject, budget: int, answer: ProviderAnswer) -> None:
        get = subject.get
        domain = get("company_domain") or _domain_of(get("website")) or (
            _domain_of(get("email")) if subject.kind == "person" else None)  # fmt: skip
        if not (get("company") or domain):
            return
        body = {"record_id": subject.record_id, "company_name": get("company"),
                "domain": domain, "country": get("country")}  # fmt: skip
        data = self._call("company", body, budget, answer)
        company = (data or {}).get("company") or {}
        score = _confidence(data.get("confidence") if data else None, 0.7)
        company = company if isinstance(company, dict) else {}
        hq = company.get("hq") if isinstance(company.get("hq"), dict) else {}
        pairs = {
            "company_name": _text(company.get("name")),
            "company_domain": _text(company.get("domain")),
            "company_linkedin_url": _text(company.get("linkedin_url")),
            "industry": _text(company.get("industry")),
            "size_range": _text(company.get("size_range")),
            "hq_city": _text(hq.get("city")), "hq_state": _text(hq.get("state")),
            "hq_country": _text(hq.get("country")),
            "hq_postal_code": _text(hq.get("postal_code")),
            "company_geo": company.get("geo") if isinstance(company.get("geo"), dict) else None,
            "company_last_verified_at": _text(company.get("last_verified_at")),
        }  # fmt: skip
        for key, value in pairs.items():
            if value:
                answer.values[key] = FieldValue(value, self.name, score)

    # -- HTTP ----------------------------------------------------------------------------------
    def _call(
        self, endpoint: str, body: dict[str, Any], budget: int | None, answer: ProviderAnswer
    ) -> dict[str, Any] | None:
        payload = {k: v for k, v in body.items() if v is not None}
        if budget is not None:
            if budget < 1:
                return None
            payload["max_credits"] = min(budget, MAX_CREDITS_PER_CALL)
        url = f"{self.base_url}/v1/enrich/{endpoint}"
        headers = {"Authorization": f"Bearer {self._api_key}"}
        for _attempt in range(3):
            self._check_paused()
            try:
                response = self.session.post(url, json=payload, headers=headers,
                                             timeout=self.timeout)  # fmt: skip
            except requests.RequestException as exc:
                raise ProviderUnavailable(f"unreachable ({type(exc).__name__})") from None
            data = _json(response)
            if response.status_code == 200:
                spent = data.get("credits_consumed")
                if isinstance(spent, int) and not isinstance(spent, bool) and spent > 0:
                    answer.credits += spent
                return data if data.get("success", True) else None
            if response.status_code == 429:
                wait = _retry_after(data, response.headers)
                if wait <= self.max_retry_wait:
                    log.info("enrich.upstream_rate_limited", endpoint=endpoint, wait=wait)
                    self.sleep(wait)
                    continue
                self._pause(wait, "rate_limited")
                raise ProviderUnavailable("rate_limited")
            if response.status_code == 402:
                self._pause(self.out_of_credits_cooldown, "out_of_credits")
                raise ProviderUnavailable("out_of_credits")
            if response.status_code in (401, 403):
                self._pause(self.out_of_credits_cooldown, "unauthorized")
                raise ProviderUnavailable("unauthorized")
            if response.status_code >= 500:
                raise ProviderUnavailable(f"upstream_error_{response.status_code}")
            # 404/422: this input is not answerable there; not the provider's fault.
            log.info("enrich.upstream_refused", endpoint=endpoint, status=response.status_code)
            return None
        raise ProviderUnavailable("rate_limited")

    def _pause(self, seconds: float, reason: str) -> None:
        with self._lock:
            self._paused_until = max(self._paused_until, self.clock() + seconds)
            self._paused_reason = reason
        log.warning("enrich.upstream_paused", reason=reason, seconds=round(seconds, 1))

    def _check_paused(self) -> None:
        with self._lock:
            if self.clock() < self._paused_until:
                raise ProviderUnavailable(self._paused_reason)

    def close(self) -> None:
        self.session.close()


def _text(raw: Any) -> str | None:
    """An upstream value meant as text: kept only when it is a non-blank string."""
    return (raw.strip() or None) if isinstance(raw, str) else None


def _domain_of(raw: str | None) -> str | None:
    return domains.registered_domain(raw) if raw else None


def _json(response: requests.Response) -> dict[str, Any]:
    try:
        data = response.json()
    except ValueError:
        return {}
    return data if isinstance(data, dict) else {}


def _retry_after(data: Mapping[str, Any], headers: Mapping[str, str]) -> float:
    for raw in (data.get("retry_after"), headers.get("Retry-After")):
        try:
            value = float(raw)  # type: ignore[arg-type]
        except (TypeError, ValueError):
            continue
        if value >= 0:
            return value
    return 60.0
