"""A client for an OpenAI-compatible chat-completions endpoint (`POST {base}/chat/completions`).

One model per effort level (low/medium/high, each falling back to the default model). Token
usage comes from the answer's `usage`; confidence is the mean token probability when the
endpoint returns `logprobs`, else None (the docs allow null). Keys never reach the logs.

Reasoning models (OpenAI's o-series and similar) refuse `logprobs` and `max_tokens` with a 400.
When a 400 says one of them is unsupported (OpenAI's `code: unsupported_parameter`, or an error
naming it as not supported), the call is repeated once without `logprobs` and with
`max_completion_tokens`. Only when that plain call succeeds is the model remembered for the life
of the client (the process), so later calls go plain at once. Any other 400 (say "max_tokens is
too large", or a context-length error) is the caller's error as it stands: switching would cost an
ordinary model its logprobs for good, and strand a backend that does not know
`max_completion_tokens`. The provider's own error message, with secrets taken out, is kept in the
error: it is what tells an operator what to fix.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import requests

from bridge.ai.errors import AiBadAnswer, AiNotConfigured, AiUnavailable
from config.logging import REDACTED, Redactor
from config.settings import Settings

EFFORTS = ("low", "medium", "high")
# Longer answers are allowed as the effort rises.
MAX_TOKENS = {"low": 1_000, "medium": 2_000, "high": 4_000}
# Parameters reasoning models refuse; a 400 saying one of them is unsupported triggers the
# plain retry. Whole words: `max_completion_tokens` and `top_logprobs` are not these.
_REFUSABLE = re.compile(r"\b(logprobs|max_tokens)\b")
_UNSUPPORTED = re.compile(r"\b(unsupported|not supported|does not support)\b", re.IGNORECASE)
_REDACTOR = Redactor()
_MAX_MESSAGE = 300


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
        self.plain_models: set[str] = set()  # models that refused logprobs / max_tokens

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
        limit = MAX_TOKENS.get(effort, MAX_TOKENS["low"])
        plain = model in self.plain_models
        response = self._post(_payload(model, messages, limit, json_mode, plain=plain))
        if response.status_code == 400 and not plain and _refuses_extras(response):
            response = self._post(_payload(model, messages, limit, json_mode, plain=True))
            if response.status_code == 200:  # only a plain form that works is worth keeping
                self.plain_models.add(model)
        if response.status_code != 200:
            message = self._provider_message(response)
            raise AiUnavailable(
                f"AI endpoint answered HTTP {response.status_code}"
                + (f": {message}" if message else "")
            )
        return _read(response, model)

    def _post(self, payload: Mapping[str, Any]) -> requests.Response:
        headers = {"Content-Type": "application/json"}
        if self.api_key:
            headers["Authorization"] = f"Bearer {self.api_key}"
        try:
            return self.session.post(self.url, json=payload, headers=headers, timeout=self.timeout)
        except requests.RequestException as exc:
            raise AiUnavailable(f"AI endpoint unreachable: {type(exc).__name__}") from None

    def _provider_message(self, response: requests.Response) -> str:
        """The provider's `error.message`, shortened, with keys and personal data taken out."""
        message = _error(response).get("message")
        if not isinstance(message, str) or not message.strip():
            return ""
        if self.api_key:
            message = message.replace(self.api_key, REDACTED)
        return _REDACTOR.scrub_text(" ".join(message.split()))[:_MAX_MESSAGE]

    def close(self) -> None:
        self.session.close()


def _payload(
    model: str,
    messages: Sequence[Mapping[str, str]],
    limit: int,
    json_mode: bool,
    *,
    plain: bool,
) -> dict[str, Any]:
    payload: dict[str, Any] = {"model": model, "messages": list(messages)}
    if plain:
        payload["max_completion_tokens"] = limit
    else:
        payload.update(max_tokens=limit, logprobs=True)
    if json_mode:
        payload["response_format"] = {"type": "json_object"}
    return payload


def _error(response: requests.Response) -> dict[str, Any]:
    """The `error` object of an OpenAI-style error body ({} when there is none)."""
    try:
        error = response.json().get("error")
    except (ValueError, AttributeError):
        return {}
    if isinstance(error, str):
        return {"message": error}
    return error if isinstance(error, dict) else {}


def _refuses_extras(response: requests.Response) -> bool:
    """Does this 400 say `logprobs` or `max_tokens` is unsupported (not merely wrong)?"""
    error = _error(response)
    param, message = str(error.get("param") or ""), str(error.get("message") or "")
    if not _REFUSABLE.search(f"{param} {message}"):
        return False
    return error.get("code") == "unsupported_parameter" or bool(_UNSUPPORTED.search(message))


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
