"""A client for an OpenAI-compatible chat-completions endpoint (`POST {base}/chat/completions`).

One model per effort level (low/medium/high, each falling back to the default model). Token
usage comes from the answer's `usage`; confidence is the mean token probability when the
endpoint returns `logprobs`, else None (the docs allow null). Keys never reach the logs.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import requests

from bridge.ai.errors import AiBadAnswer, AiNotConfigured, AiUnavailable
from config.settings import Settings

EFFORTS = ("low", "medium", "high")
# Longer answers are allowed as the effort rises.
MAX_TOKENS = {"low": 1_000, "medium": 2_000, "high": 4_000}


@dataclass(frozen=True)
class ChatResult:
    content: str
    prompt_tokens: int
    completion_tokens: int
    confidence: float | None
    model: str


class ChatClient:
    def __init__(
        self,
        base_url: str,
        api_key: str,
        models: Mapping[str, str],
        *,
        timeout: float = 60.0,
        session: requests.Session | None = None,
    ) -> None:
        self.url = base_url.rstrip("/") + "/chat/completions" if base_url else ""
        self.api_key = api_key
        self.models = dict(models)
        self.timeout = timeout
        self.session = session or requests.Session()

    @classmethod
    def from_settings(cls, settings: Settings) -> ChatClient:
        default = settings.ai_model
        models = {
            "low": settings.ai_model_low or default,
            "medium": settings.ai_model_medium or default,
            "high": settings.ai_model_high or default,
        }
        return cls(
            settings.ai_base_url,
            settings.ai_api_key.get_secret_value(),
            {k: v for k, v in models.items() if v},
            timeout=settings.ai_timeout_seconds,
        )

    def configured(self, effort: str) -> bool:
        return bool(self.url and self.models.get(effort))

    def model_for(self, effort: str) -> str:
        if not self.configured(effort):
            raise AiNotConfigured(
                f"No language model is configured for effort={effort!r}: set BRIDGE_AI_BASE_URL "
                "and BRIDGE_AI_MODEL (or BRIDGE_AI_MODEL_" + effort.upper() + ")"
            )
        return self.models[effort]

    def complete(
        self, messages: Sequence[Mapping[str, str]], *, effort: str, json_mode: bool = False
    ) -> ChatResult:
        model = self.model_for(effort)
        payload: dict[str, Any] = {
            "model": model,
            "messages": list(messages),
            "max_tokens": MAX_TOKENS.get(effort, MAX_TOKENS["low"]),
            "logprobs": True,
        }
        if json_mode:
            payload["response_format"] = {"type": "json_object"}
        headers = {"Content-Type": "application/json"}
        if self.api_key:
            headers["Authorization"] = f"Bearer {self.api_key}"
        try:
            response = self.session.post(
                self.url, json=payload, headers=headers, timeout=self.timeout
            )
        except requests.RequestException as exc:
            raise AiUnavailable(f"AI endpoint unreachable: {type(exc).__name__}") from None
        if response.status_code != 200:
            raise AiUnavailable(f"AI endpoint answered HTTP {response.status_code}")
        return _read(response, model)

    def close(self) -> None:
        self.session.close()


def _read(response: requests.Response, model: str) -> ChatResult:
    try:
        data = response.json()
        choice = data["choices"][0]
        content = choice["message"]["content"]
        if not isinstance(content, str):
            raise TypeError("content is not text")
        usage = data.get("usage") or {}
        return ChatResult(
            content=content,
            prompt_tokens=int(usage.get("prompt_tokens") or 0),
            completion_tokens=int(usage.get("completion_tokens") or 0),
            confidence=_confidence(choice.get("logprobs")),
            model=str(data.get("model") or model),
        )
    except (ValueError, KeyError, IndexError, TypeError) as exc:
        raise AiBadAnswer(
            f"AI endpoint answered something unusable: {type(exc).__name__}"
        ) from None


def _confidence(logprobs: Any) -> float | None:
    """exp(mean log probability) of the answer's tokens, in [0, 1]; None when not given."""
    if not isinstance(logprobs, Mapping):
        return None
    tokens = logprobs.get("content")
    if not isinstance(tokens, list) or not tokens:
        return None
    values = [t.get("logprob") for t in tokens if isinstance(t, Mapping)]
    numbers = [float(v) for v in values if isinstance(v, int | float)]
    if not numbers:
        return None
    return round(min(1.0, max(0.0, math.exp(sum(numbers) / len(numbers)))), 3)
