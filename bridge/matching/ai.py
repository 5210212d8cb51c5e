"""AI mode: an LLM behind an OpenAI-compatible chat-completions endpoint scores candidate pairs.

The index proposes a shortlist for each candidate (its most likely records by the evidence
model); the model answers, as a JSON object, a score from 0 to 1 and a one-sentence reason for
each shortlisted record. Nothing falls back silently: a missing configuration, an unreachable
endpoint or an unreadable answer is an `AiError`.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import requests

from bridge.matching.profiles import Profile

SYSTEM_PROMPT = (
    "You decide whether CRM records describe the same real-world entity (the same person, or "
    "the same company). Free-mail domains (gmail.com, outlook.com...) say nothing about a "
    "company; a shared company name alone does not make two people the same; the same person "
    "at two different companies are two different contacts. Answer only with a JSON object "
    '{"matches": [{"id": "<record id>", "score": <0..1>, "explanation": "<one sentence>"}]} '
    "with one entry per record given, score 1 meaning certainly the same entity."
)


class AiError(Exception):
    """The AI endpoint is not configured, failed, or answered something unusable."""


class AiNotConfigured(AiError):
    pass


@dataclass(frozen=True)
class AiVerdict:
    id: str
    score: float
    explanation: str


def _describe(profile: Profile) -> dict[str, str]:
    shown = dict(profile.display)
    if profile.domain:
        shown.setdefault("company_domain", profile.domain)
    return shown


class AiMatcher:
    def __init__(
        self,
        base_url: str,
        api_key: str,
        model: str,
        *,
        timeout: float = 30.0,
        session: requests.Session | None = None,
    ) -> None:
        if not base_url or not model:
            raise AiNotConfigured(
                "AI matching is not configured: set BRIDGE_MATCHING_AI_BASE_URL and "
                "BRIDGE_MATCHING_AI_MODEL (and BRIDGE_MATCHING_AI_API_KEY if needed)"
            )
        self.url = base_url.rstrip("/") + "/chat/completions"
        self.api_key = api_key
        self.model = model
        self.timeout = timeout
        self.session = session or requests.Session()

    def judge(
        self, sobject: str, candidate: Profile, records: Sequence[Profile], instructions: str = ""
    ) -> list[AiVerdict]:
        if not records:
            return []
        user = {
            "object": sobject,
            "candidate": _describe(candidate),
            "records": [{"id": r.id, **_describe(r)} for r in records],
        }
        if instructions:
            user["instructions"] = instructions
        payload = {
            "model": self.model,
            "temperature": 0,
            "response_format": {"type": "json_object"},
            "messages": [
                {"role": "system", "content": SYSTEM_PROMPT},
                {"role": "user", "content": json.dumps(user)},
            ],
        }
        headers = {"Content-Type": "application/json"}
        if self.api_key:
            headers["Authorization"] = f"Bearer {self.api_key}"
        try:
            response = self.session.post(
                self.url, json=payload, headers=headers, timeout=self.timeout
            )
        except requests.RequestException as exc:
            raise AiError(f"AI endpoint unreachable: {type(exc).__name__}") from None
        if response.status_code != 200:
            raise AiError(f"AI endpoint answered HTTP {response.status_code}")
        return self._read(response, {r.id for r in records})

    def _read(self, response: requests.Response, known: set[str]) -> list[AiVerdict]:
        try:
            content = response.json()["choices"][0]["message"]["content"]
            data: Any = json.loads(_strip_fences(content))
            entries = data["matches"] if isinstance(data, dict) else data
            verdicts = []
            for entry in entries:
                record_id = str(entry["id"])
                if record_id not in known:
                    continue  # the model may not invent records
                score = min(1.0, max(0.0, float(entry["score"])))
                verdicts.append(
                    AiVerdict(record_id, score, str(entry.get("explanation", ""))[:500])
                )
        except (ValueError, KeyError, IndexError, TypeError) as exc:
            raise AiError(
                f"AI endpoint answered something unusable: {type(exc).__name__}"
            ) from None
        return verdicts


def _strip_fences(text: str) -> str:
    text = text.strip()
    if text.startswith("```"):
        text = text.strip("`")
        text = text.split("\n", 1)[1] if "\n" in text else text
    return text
