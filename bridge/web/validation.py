"""Parsing request bodies and query strings into the pydantic contract (422 on failure)."""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import TypeVar

from aiohttp import web
from pydantic import BaseModel, ValidationError

from bridge.web.errors import RequestValidationError

M = TypeVar("M", bound=BaseModel)

# No contract nests anywhere near this deep; a bound keeps every body we accept decodable and
# encodable again at any stack depth (a worker re-reading a stored payload, a response).
MAX_JSON_DEPTH = 100


def decode_json(raw: bytes) -> object:
    """The body as JSON, or a 422 `json_invalid` (also for input Python cannot hold safely)."""
    try:
        data = json.loads(raw)
    except RecursionError:  # nesting past the interpreter's limit (b"[" * 5000)
        raise _invalid(f"nested deeper than {MAX_JSON_DEPTH} levels") from None
    except ValueError as exc:  # JSONDecodeError, UnicodeDecodeError, ints past 4300 digits
        raise _invalid(str(exc)) from None
    if _depth_exceeds(data, MAX_JSON_DEPTH):
        raise _invalid(f"nested deeper than {MAX_JSON_DEPTH} levels")
    return data


def _invalid(reason: str) -> RequestValidationError:
    return RequestValidationError(
        [{"loc": ["body"], "msg": f"Invalid JSON: {reason}", "type": "json_invalid"}]
    )


def _depth_exceeds(data: object, limit: int) -> bool:
    # Iterative, so the check itself cannot recurse too deep.
    stack: list[tuple[object, int]] = [(data, 1)]
    while stack:
        value, depth = stack.pop()
        if isinstance(value, dict):
            children: Iterable[object] = value.values()
        elif isinstance(value, list):
            children = value
        else:
            continue
        if depth > limit:
            return True
        stack.extend((child, depth + 1) for child in children)
    return False


async def read_json(request: web.Request) -> object:
    return decode_json(await request.read())


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
