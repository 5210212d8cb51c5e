"""Body parsing into the 422 shape (malformed JSON, wrong types) and the error body fields.

No endpoint with a JSON body exists yet, so `parse_body` is driven directly; the first POST
endpoint should add its own through-the-app 422 test.
"""

from __future__ import annotations

import json

import pytest
from pydantic import BaseModel

from bridge.web.errors import ApiError, RequestValidationError
from bridge.web.validation import parse_body


class Lead(BaseModel):
    record_id: str
    max_credits: int


class FakeRequest:
    def __init__(self, raw: bytes) -> None:
        self.raw = raw

    async def read(self) -> bytes:
        return self.raw


@pytest.mark.parametrize("raw", [b"{not json", b"\xff\xfe", b""])
async def test_malformed_json_is_422(raw: bytes) -> None:
    with pytest.raises(RequestValidationError) as raised:
        await parse_body(FakeRequest(raw), Lead)  # type: ignore[arg-type]
    response = raised.value.response()
    assert response.status == 422
    body = json.loads(response.body)  # type: ignore[arg-type]
    assert body["detail"][0]["loc"] == ["body"] and body["detail"][0]["type"] == "json_invalid"


async def test_wrong_types_are_422_with_locations() -> None:
    raw = json.dumps({"record_id": 5, "max_credits": "lots"}).encode()
    with pytest.raises(RequestValidationError) as raised:
        await parse_body(FakeRequest(raw), Lead)  # type: ignore[arg-type]
    body = json.loads(raised.value.response().body)  # type: ignore[arg-type]
    assert {tuple(i["loc"]) for i in body["detail"]} == {
        ("body", "record_id"), ("body", "max_credits")
    }  # fmt: skip
    assert all(set(i) == {"loc", "msg", "type"} for i in body["detail"])


def test_429_body_and_retry_after_header() -> None:
    response = ApiError(429, "Rate limit exceeded", retry_after=7).response()
    body = json.loads(response.body)  # type: ignore[arg-type]
    assert response.headers["Retry-After"] == "7"
    assert body["retry_after"] == 7 and body["error"] == "Rate limit exceeded"
