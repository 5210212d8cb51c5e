"""Answering with a pydantic model (the contract), serialised once by pydantic-core."""

from __future__ import annotations

from aiohttp import web
from pydantic import BaseModel


def json_model(model: BaseModel, status: int = 200) -> web.Response:
    return web.Response(
        body=model.model_dump_json().encode(), status=status, content_type="application/json"
    )
