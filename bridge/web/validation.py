"""Parsing request bodies and query strings into the pydantic contract (422 on failure)."""

from __future__ import annotations

import json
from typing import TypeVar

from aiohttp import web
from pydantic import BaseModel, ValidationError

from bridge.web.errors import RequestValidationError

M = TypeVar("M", bound=BaseModel)


async def read_json(request: web.Request) -> object:
    raw = await request.read()
    try:
        return json.loads(raw)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise RequestValidationError(
            [{"loc": ["body"], "msg": f"Invalid JSON: {exc}", "type": "json_invalid"}]
        ) from None


async def parse_body(request: web.Request, model: type[M]) -> M:
    data = await read_json(request)
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise RequestValidationError.from_pydantic(exc, "body") from None


def parse_query(request: web.Request, model: type[M]) -> M:
    # Repeated parameters become lists only where the model asks for a list.
    data: dict[str, object] = {}
    for key in request.query:
        values = request.query.getall(key)
        data[key] = values if len(values) > 1 else values[0]
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise RequestValidationError.from_pydantic(exc, "query") from None
