"""The research search tool: a Tavily-style endpoint, `POST {base}/search`.

Request `{query, max_results, search_depth}` with a bearer key; answer
`{results: [{title, url, content}]}`. Optional: without it research says what it could not do.
"""

from __future__ import annotations

from dataclasses import dataclass

import requests

from bridge.ai.errors import AiUnavailable

RESULTS_BY_EFFORT = {"low": 3, "medium": 5, "high": 8}
SNIPPET_CHARS = 1_200


@dataclass(frozen=True)
class SearchHit:
    title: str
    url: str
    content: str


class SearchTool:
    def __init__(
        self, base_url: str, api_key: str, *, timeout: float = 30.0,
        session: requests.Session | None = None,
    ) -> None:  # fmt: skip
        self.url = base_url.rstrip("/") + "/search"
        self.api_key = api_key
        self.timeout = timeout
        self.session = session or requests.Session()

    def search(self, query: str, effort: str) -> list[SearchHit]:
        payload = {
            "query": query[:400],
            "max_results": RESULTS_BY_EFFORT.get(effort, 5),
            "search_depth": "advanced" if effort == "high" else "basic",
        }
        headers = {"Authorization": f"Bearer {self.api_key}"} if self.api_key else {}
        try:
            response = self.session.post(
                self.url, json=payload, headers=headers, timeout=self.timeout
            )
        except requests.RequestException as exc:
            raise AiUnavailable(f"search tool unreachable: {type(exc).__name__}") from None
        if response.status_code != 200:
            raise AiUnavailable(f"search tool answered HTTP {response.status_code}")
        try:
            results = response.json()["results"]
            return [
                SearchHit(str(r.get("title") or ""), str(r.get("url") or ""),
                          str(r.get("content") or "")[:SNIPPET_CHARS])
                for r in results
            ]  # fmt: skip
        except (ValueError, KeyError, TypeError, AttributeError):
            raise AiUnavailable("search tool answered something unusable") from None

    def close(self) -> None:
        self.session.close()
