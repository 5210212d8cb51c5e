"""A local HTTP server speaking the documented enrichment protocol, standing in for the paid
upstream API (`/v1/enrich/person`, `phone`, `email`, `company`): Bearer auth, a credit balance
with documented prices capped by `max_credits`, `402` when the balance cannot pay, scripted
`429 {retry_after}`, and a log of every request it answered.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

from tests.app_in_thread import AppInThread

PRICES = {"person": 4, "email": 5, "phone": 5, "company": 5}


@dataclass
class UpstreamServer:
    api_key: str = "up-key-1"
    balance: int = 1000
    people: dict[tuple[str, str, str], dict[str, Any]] = field(default_factory=dict)
    companies: dict[str, dict[str, Any]] = field(default_factory=dict)
    # company name -> domain: how the email search finds the domain when none is given
    company_domains: dict[str, str] = field(default_factory=dict)
    requests: list[tuple[str, dict[str, Any]]] = field(default_factory=list)
    # endpoint ("*" for any) -> list of (status, retry_after) answered before real work
    scripted: dict[str, list[tuple[int, float | None]]] = field(default_factory=dict)
    port: int = 0

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def script(
        self, status: int, times: int = 1, retry_after: float | None = None, endpoint: str = "*"
    ) -> None:
        self.scripted.setdefault(endpoint, []).extend([(status, retry_after)] * times)

    def add_person(self, first: str, last: str, domain: str, **data: Any) -> None:
        self.people[(first.lower(), last.lower(), domain.lower())] = data

    def seen(self, endpoint: str | None = None) -> list[dict[str, Any]]:
        return [body for name, body in self.requests if endpoint in (None, name)]

    # -- HTTP ----------------------------------------------------------------------------------
    async def handle(self, request: web.Request) -> web.Response:
        endpoint = request.match_info["endpoint"]
        if request.headers.get("Authorization") != f"Bearer {self.api_key}":
            return web.json_response({"error": "Invalid API key"}, status=401)
        body = await request.json()
        self.requests.append((endpoint, body))
        for key in (endpoint, "*"):
            if self.scripted.get(key):
                status, retry_after = self.scripted[key].pop(0)
                payload: dict[str, Any] = {
                    "error": "Rate limit exceeded" if status == 429 else "Credit limit exceeded"
                }
                if retry_after is not None:
                    payload["retry_after"] = retry_after
                if status == 402:
                    payload.update(credits_required=PRICES[endpoint], credits_remaining=0)
                return web.json_response(payload, status=status)
        if "record_id" not in body:
            return web.json_response(
                {
                    "detail": [
                        {"loc": ["body", "record_id"], "msg": "Field required", "type": "missing"}
                    ]
                },
                status=422,
            )
        cost = min(PRICES[endpoint], int(body.get("max_credits") or PRICES[endpoint]))
        if cost > self.balance:
            return web.json_response(
                {
                    "error": "Credit limit exceeded",
                    "credits_required": cost,
                    "credits_remaining": self.balance,
                },
                status=402,
            )
        self.balance -= cost
        answer = getattr(self, f"_{endpoint}")(body)
        answer.update(
            success=True,
            record_id=body["record_id"],
            credits_consumed=cost,
            credits_remaining=self.balance,
            processing_time_ms=3,
            cached=False,
        )
        return web.json_response(answer)

    def _person_data(self, body: dict[str, Any]) -> dict[str, Any] | None:
        domain = str(body.get("company_domain") or body.get("domain") or "").lower()
        if not domain and body.get("company"):
            domain = self.company_domains.get(str(body["company"]).lower(), "")
        key = (
            str(body.get("first_name", "")).lower(),
            str(body.get("last_name", "")).lower(),
            domain,
        )
        return self.people.get(key)

    def _person(self, body: dict[str, Any]) -> dict[str, Any]:
        data = self._person_data(body)
        if data is None:
            return {"person": None, "confidence": None}
        person = {"full_name": f"{body['first_name']} {body['last_name']}", **data}
        return {"person": person, "confidence": 0.9}

    def _phone(self, body: dict[str, Any]) -> dict[str, Any]:
        data = self._person_data(body) or {}
        return {"phone": data.get("phone"), "email": body.get("email")}

    def _email(self, body: dict[str, Any]) -> dict[str, Any]:
        data = self._person_data(body) or {}
        return {"email": data.get("email"), "confidence": 0.85 if data.get("email") else None}

    def _company(self, body: dict[str, Any]) -> dict[str, Any]:
        data = self.companies.get(str(body.get("domain") or "").lower())
        return {"company": data, "confidence": 0.9 if data else None}


class RunningUpstream(AppInThread[UpstreamServer]):
    """Serves an `UpstreamServer` from a thread with its own event loop."""

    def add_routes(self, app: web.Application) -> None:
        app.router.add_post(
            "/v1/enrich/{endpoint:(person|phone|email|company)}", self.server.handle
        )


# --- the stand-in itself speaks the documented protocol ---------------------------------------
def test_stand_in_speaks_the_documented_protocol() -> None:
    import requests

    server = UpstreamServer(balance=4)
    server.add_person("Ada", "Lovelace", "engines.io", email="ada@engines.io")
    with RunningUpstream(server):
        url = f"{server.url}/v1/enrich/person"
        body = {
            "record_id": "r1",
            "first_name": "Ada",
            "last_name": "Lovelace",
            "company_domain": "engines.io",
        }
        assert requests.post(url, json=body, timeout=5).status_code == 401
        auth = {"Authorization": f"Bearer {server.api_key}"}
        bad = requests.post(url, json={"first_name": "x"}, headers=auth, timeout=5)
        assert bad.status_code == 422 and bad.json()["detail"][0]["loc"] == ["body", "record_id"]
        ok = requests.post(url, json=body, headers=auth, timeout=5).json()
        assert ok["person"]["email"] == "ada@engines.io"
        assert ok["credits_consumed"] == 4 and ok["credits_remaining"] == 0
        broke = requests.post(url, json=body, headers=auth, timeout=5)
        assert broke.status_code == 402 and broke.json()["credits_required"] == 4
        server.script(429, retry_after=7)
        limited = requests.post(url, json=body, headers=auth, timeout=5)
        assert limited.status_code == 429 and limited.json()["retry_after"] == 7
