"""Body parsing into the 422 shape (malformed JSON, wrong types), the error body fields, and
which failures the error middleware answers as 422 (parse paths) or 500 (everything else).

No endpoint with a JSON body exists yet, so `parse_body` is driven directly; the first POST
endpoint should add its own through-the-app 422 test.
"""

from __future__ import annotations

import json

import pytest
from aiohttp import web
from aiohttp.test_utils import make_mocked_request
from pydantic import BaseModel

from bridge.web.errors import ApiError, RequestValidationError, error_middleware
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


async def test_an_internal_validation_error_is_a_500_not_a_client_422() -> None:
    # A model the code builds from its own data failing validation is a bug, not bad input:
    # only parse paths (RequestValidationError) answer 422.
    async def buggy(request: web.Request) -> web.StreamResponse:
        Lead.model_validate({"record_id": "r1"})  # max_credits missing: our mistake
        return web.Response()

    response = await error_middleware(make_mocked_request("GET", "/v1/x"), buggy)
    assert response.status == 500
    body = json.loads(response.body)  # type: ignore[attr-defined]
    assert body["error"] == "Internal server error" and "detail" not in body


async def test_a_parse_path_validation_error_is_still_422() -> None:
    async def strict(request: web.Request) -> web.StreamResponse:
        await parse_body(FakeRequest(b'{"record_id": 1}'), Lead)  # type: ignore[arg-type]
        return web.Response()

    response = await error_middleware(make_mocked_request("POST", "/v1/x"), strict)
    assert response.status == 422
    body = json.loads(response.body)  # type: ignore[attr-defined]
    assert {tuple(i["loc"]) for i in body["detail"]} == {
        ("body", "record_id"), ("body", "max_credits")
    }  # fmt: skip
