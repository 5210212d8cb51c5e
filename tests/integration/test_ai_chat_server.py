"""A local HTTP server speaking the OpenAI chat-completions protocol (and a Tavily-style
`/search`), standing in for the paid language-model and search APIs: Bearer auth, scripted
answers (else a default answer derived from the question), `usage`, `logprobs`, optional delay
and failures, models that refuse `logprobs`/`max_tokens` with a 400 as OpenAI's reasoning
models do, and a log of every request it answered.
"""

from __future__ import annotations

import asyncio
import json
import time
from dataclasses import dataclass, field
from typing import Any

import requests
from aiohttp import web

from tests.app_in_thread import AppInThread


@dataclass
class ChatServer:
    api_key: str = "sk-test-1"
    replies: list[str] = field(default_factory=list)  # answered in order, then the default
    # HTTP statuses answered first; a (status, error) pair answers that exact `error` object.
    failures: list[int | tuple[int, dict[str, Any]]] = field(default_factory=list)
    failure_message: str = "boom"  # the `error.message` of the bare-status failures
    # Models answering 400 to `max_tokens` or `logprobs` (as OpenAI's o-series models do).
    reasoning_models: set[str] = field(default_factory=set)
    delay: float = 0.0
    search_results: list[dict[str, str]] = field(default_factory=list)
    requests: list[dict[str, Any]] = field(default_factory=list)
    searches: list[dict[str, Any]] = field(default_factory=list)
    port: int = 0

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"

    def default_reply(self, body: dict[str, Any]) -> str:
        question = body["messages"][-1]["content"]
        if body.get("response_format", {}).get("type") == "json_object":
            return json.dumps({"answer": f"About: {question[:60]}", "words": len(question.split())})
        return f"Answer about: {question[:200]}"

    async def chat(self, request: web.Request) -> web.Response:
        if request.headers.get("Authorization") != f"Bearer {self.api_key}":
            return web.json_response({"error": {"message": "Invalid API key"}}, status=401)
        body = await request.json()
        self.requests.append(body)
        if self.delay:
            await asyncio.sleep(self.delay)
        if self.failures:
            failure = self.failures.pop(0)
            status, error = (
                failure
                if isinstance(failure, tuple)
                else (failure, {"message": self.failure_message, "type": "api_error"})
            )
            return web.json_response({"error": error}, status=status)
        if body["model"] in self.reasoning_models:
            refused = self.refused(body)
            if refused is not None:
                return web.json_response({"error": refused}, status=400)
        content = self.replies.pop(0) if self.replies else self.default_reply(body)
        prompt_tokens = sum(len(m["content"].split()) for m in body["messages"])
        tokens = content.split() or [""]
        return web.json_response(
            {
                "id": f"chatcmpl-{len(self.requests)}",
                "object": "chat.completion",
                "created": int(time.time()),
                "model": body["model"],
                "choices": [
                    {
                        "index": 0,
                        "message": {"role": "assistant", "content": content},
                        "finish_reason": "stop",
                        "logprobs": (
                            {"content": [{"token": t, "logprob": -0.05} for t in tokens]}
                            if body.get("logprobs")
                            else None
                        ),
                    }
                ],
                "usage": {
                    "prompt_tokens": prompt_tokens,
                    "completion_tokens": len(tokens),
                    "total_tokens": prompt_tokens + len(tokens),
                },
            }
        )

    @staticmethod
    def refused(body: dict[str, Any]) -> dict[str, Any] | None:
        """OpenAI's answer to a reasoning model sent a parameter it does not support."""
        for param, hint in (("max_tokens", " Use 'max_completion_tokens' instead."),
                            ("logprobs", "")):  # fmt: skip
            if param in body:
                return {
                    "message": f"Unsupported parameter: '{param}' is not supported with this "
                    f"model.{hint}",
                    "type": "invalid_request_error",
                    "param": param,
                    "code": "unsupported_parameter",
                }
        return None

    async def search(self, request: web.Request) -> web.Response:
        body = await request.json()
        self.searches.append(body)
        return web.json_response({"query": body["query"], "results": self.search_results})


class RunningChat(AppInThread[ChatServer]):
    """Serves a `ChatServer` from a thread with its own event loop."""

    def add_routes(self, app: web.Application) -> None:
        app.router.add_post("/v1/chat/completions", self.server.chat)
        app.router.add_post("/search", self.server.search)


def test_stand_in_speaks_chat_completions() -> None:
    server = ChatServer(replies=["Hello there"])
    with RunningChat(server):
        url = f"{server.url}/chat/completions"
        body = {"model": "m", "messages": [{"role": "user", "content": "hi you"}]}
        assert requests.post(url, json=body, timeout=5).status_code == 401
        auth = {"Authorization": f"Bearer {server.api_key}"}
        data = requests.post(url, json=body, headers=auth, timeout=5).json()
        assert data["choices"][0]["message"]["content"] == "Hello there"
        assert data["usage"] == {"prompt_tokens": 2, "completion_tokens": 2, "total_tokens": 4}
        assert data["model"] == "m"
