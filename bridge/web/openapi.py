"""The OpenAPI 3.1 document, generated from the registered endpoints' pydantic models.

Nothing here is written by hand per endpoint: an endpoint that registers itself through
`bridge.web.endpoints` appears with its request, query and response models, summary, tags,
rate-limit area (`x-rate-limit-area`), credit cost (`x-credits`) and the documented error
bodies it can answer with. `/docs` renders it with Swagger UI served from the installed
`swagger-ui-py` wheel (no CDN).
"""

from __future__ import annotations

import importlib.util
import re
from pathlib import Path
from typing import Any

from aiohttp import web
from pydantic import BaseModel
from pydantic.json_schema import JsonSchemaMode, models_json_schema

from bridge.web.endpoints import Endpoint, add_endpoint, add_public_prefix, all_endpoints
from bridge.web.errors import ErrorBody, ValidationErrorBody

REF = "#/components/schemas/{model}"
DOCS_STATIC = "/docs/static"
OPENAPI_CACHE = web.AppKey("openapi_cache", dict[str, Any])

_ERRORS: dict[int, str] = {
    401: "Missing, malformed, unknown or revoked API key",
    402: "Not enough credits to pay for the request",
    403: "The API key may not call this endpoint (scope or origin)",
    413: "Request body too large",
    422: "Validation error (malformed JSON, wrong or missing fields)",
    429: "Rate limit exceeded; retry after `retry_after` seconds",
    500: "Internal server error",
}

_RESPONSE_HEADERS = {
    "X-Request-ID": {"description": "The request id (echoed or generated).",
                     "schema": {"type": "string"}},
    "X-RateLimit-Limit": {"description": "Requests per minute allowed for this key and area.",
                          "schema": {"type": "integer"}},
    "X-RateLimit-Remaining": {"description": "Requests left before the limit applies.",
                              "schema": {"type": "integer"}},
    "X-RateLimit-Reset": {"description": "Seconds until the full allowance is back.",
                          "schema": {"type": "integer"}},
    "X-Credits-Remaining": {"description": "Credits remaining for the tenant.",
                            "schema": {"type": "integer"}},
}  # fmt: skip


def build_openapi(app: web.Application) -> dict[str, Any]:
    endpoints = [e for e in all_endpoints(app) if e.in_schema]
    models: list[tuple[type[BaseModel], JsonSchemaMode]] = [
        (ErrorBody, "serialization"),
        (ValidationErrorBody, "serialization"),
    ]
    for e in endpoints:
        models += [(m, "validation") for m in (e.body, e.query, e.path_params) if m]
        models += [(r[1], "serialization") for r in e.responses.values() if isinstance(r, tuple)]
        if e.response:
            models.append((e.response, "serialization"))
    refs, top = models_json_schema(list(dict.fromkeys(models)), ref_template=REF)
    schemas: dict[str, Any] = top.get("$defs", {})

    paths: dict[str, dict[str, Any]] = {}
    for e in sorted(endpoints, key=lambda e: (e.openapi_path, e.method)):
        paths.setdefault(e.openapi_path, {})[e.method.lower()] = _operation(e, refs, schemas)
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "Bridge API",
            "version": _version(),
            "description": (
                "Self-hosted implementation of the documented Lantern API 1.4.1. "
                "Authenticate with `Authorization: Bearer <api key>`. Credits are integers."
            ),
        },
        "paths": paths,
        "components": {
            "schemas": schemas,
            "securitySchemes": {
                "BearerAuth": {"type": "http", "scheme": "bearer", "bearerFormat": "ApiToken"}
            },
        },
        "security": [{"BearerAuth": []}],
    }


def _operation(
    e: Endpoint,
    refs: dict[tuple[type[BaseModel], JsonSchemaMode], dict[str, Any]],
    schemas: dict[str, Any],
) -> dict[str, Any]:
    op: dict[str, Any] = {
        "operationId": e.operation_id or _operation_id(e),
        "summary": e.summary,
        "tags": list(e.tags),
    }
    description = e.description or (e.handler.__doc__ or "").strip()
    if e.credits:
        description = f"{description}\n\n**Credits:** {e.credits}".strip()
    if e.area:
        description = f"{description}\n\n**Rate-limit area:** `{e.area}`".strip()
        op["x-rate-limit-area"] = e.area
    if e.credits:
        op["x-credits"] = e.credits
    if description:
        op["description"] = description
    if e.public:
        op["security"] = []

    params: list[dict[str, Any]] = []
    for model, where in ((e.path_params, "path"), (e.query, "query")):
        if model is not None:
            params += _parameters(schemas, refs[(model, "validation")], where)
    declared = {p["name"] for p in params if p["in"] == "path"}
    for name in _path_names(e.openapi_path) - declared:
        params.append({"name": name, "in": "path", "required": True, "schema": {"type": "string"}})
    if params:
        op["parameters"] = params
    if e.body is not None:
        op["requestBody"] = {
            "required": True,
            "content": {"application/json": {"schema": refs[(e.body, "validation")]}},
        }

    ok: dict[str, Any] = {"description": "Success", "headers": _headers(e)}
    if e.response is not None:
        ok["content"] = {"application/json": {"schema": refs[(e.response, "serialization")]}}
    responses: dict[str, Any] = {str(e.status): ok}
    error_ref = refs[(ErrorBody, "serialization")]
    for status, extra in e.responses.items():
        if isinstance(extra, tuple):
            responses[str(status)] = _json(extra[0], refs[(extra[1], "serialization")])
        else:
            responses[str(status)] = _json(extra, error_ref)
    statuses = [500]
    if not e.public:
        statuses += [401, 403]
    if e.credits:
        statuses.append(402)
    if e.area and not e.public:
        statuses.append(429)
    if e.body is not None:
        statuses.append(413)
    if e.body or e.query or e.path_params:
        statuses.append(422)
    for status in sorted(statuses):
        ref = refs[(ValidationErrorBody, "serialization")] if status == 422 else error_ref
        responses.setdefault(str(status), _json(_ERRORS[status], ref))
    op["responses"] = dict(sorted(responses.items()))
    return op


def _json(description: str, schema: dict[str, Any]) -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": schema}}}


def _headers(e: Endpoint) -> dict[str, Any]:
    names = ["X-Request-ID"]
    if e.area and not e.public:
        names += ["X-RateLimit-Limit", "X-RateLimit-Remaining", "X-RateLimit-Reset"]
    if not e.public:
        names.append("X-Credits-Remaining")
    return {n: _RESPONSE_HEADERS[n] for n in names}


def _parameters(schemas: dict[str, Any], ref: dict[str, Any], where: str) -> list[dict[str, Any]]:
    schema = schemas[ref["$ref"].rsplit("/", 1)[1]]
    required = set(schema.get("required", []))
    params = []
    for name, prop in schema.get("properties", {}).items():
        prop = dict(prop)
        param: dict[str, Any] = {"name": name, "in": where, "required": name in required}
        if "description" in prop:
            param["description"] = prop.pop("description")
        param["schema"] = prop
        params.append(param)
    return params


def _path_names(path: str) -> set[str]:
    return set(re.findall(r"\{(\w+)\}", path))


def _operation_id(e: Endpoint) -> str:
    return e.handler.__name__


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("bridge")
    except PackageNotFoundError:
        return "0.0.0"


# --- handlers --------------------------------------------------------------------------------


async def openapi_json(request: web.Request) -> web.Response:
    """The OpenAPI 3.1 document of every registered endpoint."""
    cache = request.app[OPENAPI_CACHE]
    if "doc" not in cache:  # routes are frozen once the app runs: build once
        cache["doc"] = build_openapi(request.app)
    return web.json_response(cache["doc"])


_DOCS_HTML = """<!doctype html>
<html lang="en">
<head>
  <meta charset="utf-8">
  <title>{title}</title>
  <link rel="stylesheet" href="{static}/swagger-ui.css">
  <link rel="icon" type="image/png" href="{static}/favicon-32x32.png">
</head>
<body>
  <div id="swagger-ui"></div>
  <script src="{static}/swagger-ui-bundle.js"></script>
  <script>
    window.ui = SwaggerUIBundle({{
      url: "/openapi.json", dom_id: "#swagger-ui", deepLinking: true,
      persistAuthorization: true
    }});
  </script>
</body>
</html>
"""


async def docs_page(request: web.Request) -> web.Response:
    """A readable page of the API reference (Swagger UI)."""
    del request
    html = _DOCS_HTML.format(title="Bridge API docs", static=DOCS_STATIC)
    return web.Response(text=html, content_type="text/html")


def swagger_ui_assets() -> Path:
    # Locate the wheel's static folder without importing the package (it pulls in jinja2/yaml).
    spec = importlib.util.find_spec("swagger_ui")
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError("swagger-ui-py is not installed")
    return Path(next(iter(spec.submodule_search_locations))) / "static"


def setup_docs(app: web.Application) -> None:
    app[OPENAPI_CACHE] = {}
    add_endpoint(
        app,
        Endpoint(
            "GET",
            "/openapi.json",
            openapi_json,
            "OpenAPI document",
            tags=("Meta",),
            public=True,
            in_schema=False,
        ),
    )
    add_endpoint(app, Endpoint("GET", "/docs", docs_page, "API docs", tags=("Meta",),
                               public=True, in_schema=False))  # fmt: skip
    app.router.add_static(DOCS_STATIC, swagger_ui_assets())
    add_public_prefix(app, DOCS_STATIC + "/")
