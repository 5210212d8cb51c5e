"""`AiService`: one question to the model, as `/v1/enrich/ai`, `/v1/enrich/research` and the
deep-research agent ask it.

JSON mode asks for a JSON object, parses and checks it, and on an invalid answer retries once
with the parse error shown to the model; a second invalid answer is an `AiBadAnswer`, never a
made-up object. Research first asks the search tool when one is configured; without one (or
when it fails) the answer says what could not be done.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from typing import Any

from bridge.ai import credits
from bridge.ai.client import ChatClient, ChatResult
from bridge.ai.errors import AiBadAnswer, AiUnavailable
from bridge.ai.prompts import (
    JSON_INSTRUCTION,
    NO_SEARCH_INSTRUCTION,
    SEARCH_INSTRUCTION,
    PromptLibrary,
)
from bridge.ai.search import SearchHit, SearchTool
from config.settings import Settings

NO_SEARCH_NOTE = (
    "Note: live web search was not available for this research, so it draws only on the "
    "model's own knowledge and could not be checked against current sources."
)
SEARCH_FAILED_NOTE = (
    "Note: the web search tool failed for this research, so it draws only on the model's own "
    "knowledge and could not be checked against current sources."
)


@dataclass(frozen=True)
class Question:
    query: str
    effort: str = "low"
    agent_type: str = "general"
    format_json: bool = False
    research: bool = False


@dataclass
class Answer:
    response: str | dict[str, Any]
    confidence: float | None
    prompt_tokens: int
    completion_tokens: int
    credits: int
    agent_used: str
    searched: bool | None = None  # research only: was the search tool used
    sources: list[str] = field(default_factory=list)
    elapsed_ms: int = 0

    @property
    def total_tokens(self) -> int:
        return self.prompt_tokens + self.completion_tokens


class AiService:
    def __init__(
        self, client: ChatClient, prompts: PromptLibrary, search: SearchTool | None = None
    ) -> None:
        self.client = client
        self.prompts = prompts
        self.search = search

    @classmethod
    def from_settings(cls, settings: Settings) -> AiService:
        search = None
        if settings.ai_search_url:
            search = SearchTool(
                settings.ai_search_url,
                settings.ai_search_api_key.get_secret_value(),
                timeout=settings.ai_timeout_seconds,
            )
        return cls(
            ChatClient.from_settings(settings), PromptLibrary(settings.ai_prompts_dir), search
        )

    def configured(self, effort: str) -> bool:
        return self.client.configured(effort)

    def ask(self, question: Question) -> Answer:
        started = time.perf_counter()
        self.client.model_for(question.effort)  # not configured: fail before any search
        system = [self.prompts.system_prompt(question.agent_type)]
        user = question.query
        note: str | None = None
        hits: list[SearchHit] = []
        if question.research:
            hits, note = self._search(question)
            if hits:
                system.append(SEARCH_INSTRUCTION)
                user += "\n\nSearch results:\n" + "\n".join(
                    f"[{n}] {h.title} ({h.url})\n{h.content}" for n, h in enumerate(hits, 1)
                )
            else:
                system.append(NO_SEARCH_INSTRUCTION)
        if question.format_json:
            system.append(JSON_INSTRUCTION)
        messages = [{"role": "system", "content": "\n\n".join(system)},
                    {"role": "user", "content": user}]  # fmt: skip
        results: list[ChatResult] = []
        response: str | dict[str, Any]
        if question.format_json:
            response, retried = self._ask_json(messages, question.effort, results)
            size = len(json.dumps(response, ensure_ascii=False))
            if note is not None:
                response.setdefault("limitations", note)
        else:
            result = self.client.complete(messages, effort=question.effort)
            results.append(result)
            response, retried = result.content.strip(), False
            size = len(response)
            if note is not None:
                response = f"{response}\n\n{note}"
        last = results[-1]
        return Answer(
            response=response,
            confidence=last.confidence,
            prompt_tokens=sum(r.prompt_tokens for r in results),
            completion_tokens=sum(r.completion_tokens for r in results),
            credits=credits.credits_for(
                size, json_output=question.format_json, json_retried=retried
            ),
            agent_used=question.agent_type,
            searched=bool(hits) if question.research else None,
            sources=[h.url for h in hits],
            elapsed_ms=round((time.perf_counter() - started) * 1000),
        )

    def _search(self, question: Question) -> tuple[list[SearchHit], str | None]:
        if self.search is None:
            return [], NO_SEARCH_NOTE
        try:
            hits = self.search.search(question.query, question.effort)
        except AiUnavailable:
            return [], SEARCH_FAILED_NOTE
        return hits, (None if hits else SEARCH_FAILED_NOTE)

    def _ask_json(
        self, messages: list[dict[str, str]], effort: str, results: list[ChatResult]
    ) -> tuple[dict[str, Any], bool]:
        first = self.client.complete(messages, effort=effort, json_mode=True)
        results.append(first)
        parsed, error = parse_json_object(first.content)
        if parsed is not None:
            return parsed, False
        retry = [
            *messages,
            {"role": "assistant", "content": first.content},
            {"role": "user", "content": f"That was not a valid JSON object ({error}). "
                                        f"{JSON_INSTRUCTION}"},
        ]  # fmt: skip
        second = self.client.complete(retry, effort=effort, json_mode=True)
        results.append(second)
        parsed, error = parse_json_object(second.content)
        if parsed is None:
            raise AiBadAnswer(f"the model answered invalid JSON twice ({error})")
        return parsed, True

    def close(self) -> None:
        self.client.close()
        if self.search is not None:
            self.search.close()


def parse_json_object(text: str) -> tuple[dict[str, Any] | None, str]:
    """The answer as a JSON object, or None and why not (fences around it are tolerated)."""
    body = text.strip()
    if body.startswith("```"):
        body = body.strip("`")
        body = body.split("\n", 1)[1] if "\n" in body else body
        body = body.strip()
    try:
        value = json.loads(body)
    except ValueError as exc:
        return None, f"invalid JSON: {exc.args[0] if exc.args else exc}"
    if not isinstance(value, dict):
        return None, f"a JSON {type(value).__name__}, not an object"
    return value, ""
