"""Which 400s make the AI client repeat a call in the plain form (no logprobs,
max_completion_tokens): only a refusal of `logprobs`/`max_tokens` as unsupported."""

from __future__ import annotations

import json
from typing import Any

import pytest
import requests

from bridge.ai.client import _refuses_extras


def _bad_request(error: Any) -> requests.Response:
    response = requests.Response()
    response.status_code = 400
    response._content = json.dumps({"error": error}).encode()
    return response


@pytest.mark.parametrize(
    ("error", "refused"),
    [
        # OpenAI's reasoning models.
        ({"message": "Unsupported parameter: 'max_tokens' is not supported with this model. "
          "Use 'max_completion_tokens' instead.", "param": "max_tokens",
          "code": "unsupported_parameter"}, True),
        ({"message": "Unsupported parameter: 'logprobs' is not supported with this model.",
          "param": "logprobs", "code": "unsupported_parameter"}, True),
        ({"message": "bad request", "param": "logprobs", "code": "unsupported_parameter"}, True),
        ("logprobs are NOT SUPPORTED by this model", True),  # a backend's plain-string error
        ({"message": "This model does not support logprobs", "code": None}, True),
        # Mentions the parameter, but does not refuse it.
        ({"message": "max_tokens is too large: 4000. This model supports at most 2048 "
          "completion tokens, whereas you provided 4000.", "param": "max_tokens",
          "code": None}, False),
        ({"message": "This model's maximum context length is 4096 tokens. However, you "
          "requested 4200 tokens. Please reduce max_tokens.", "param": "messages",
          "code": "context_length_exceeded"}, False),
        # Refuses something else.
        ({"message": "Unsupported parameter: 'temperature' is not supported with this model.",
          "param": "temperature", "code": "unsupported_parameter"}, False),
        ({"message": "Unsupported parameter: 'top_logprobs'.", "param": "top_logprobs",
          "code": "unsupported_parameter"}, False),
        ({"message": "'max_completion_tokens' is not supported", "param": None}, False),
        ({}, False),
    ],
)  # fmt: skip
def test_only_unsupported_extras_trigger_the_plain_retry(error: Any, refused: bool) -> None:
    assert _refuses_extras(_bad_request(error)) is refused


def test_a_body_that_is_not_json_is_no_refusal() -> None:
    response = requests.Response()
    response.status_code = 400
    response._content = b"<html>logprobs not supported</html>"
    assert _refuses_extras(response) is False
