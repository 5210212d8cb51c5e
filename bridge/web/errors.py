"""The documented error bodies, and the one middleware that turns every failure into them.

401/402/403/404/409/413/429/500/503: `{error, details, request_id, credits_required,
credits_remaining, retry_after}`. 422: `{detail: [{loc, msg, type}]}` (pydantic's shape).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from typing import Any

import structlog
from aiohttp import web
from pydantic import BaseModel, ValidationError

from bridge.credits.service import InsufficientCredits
from bridge.web.appkeys import SETTINGS
from config.logging import current_request_id

log = structlog.get_logger(__name__)

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


class ErrorBody(BaseModel):
    error: str
    details: Any = None
    request_id: str | None = None
    credits_required: int | None = None
    credits_remaining: int | None = None
    retry_after: int | None = None


class ValidationErrorItem(BaseModel):
    loc: list[str | int]
    msg: str
    type: str


class ValidationErrorBody(BaseModel):
    detail: list[ValidationErrorItem]


class ApiError(Exception):
    """Raise from anywhere in a request to answer with the documented error body."""

    def __init__(
        self,
        status: int,
        error: str,
        *,
        details: Any = None,
        credits_required: int | None = None,
        credits_remaining: int | None = None,
        retry_after: int | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(error)
        self.status = status
        self.error = error
        self.details = details
        self.credits_required = credits_required
        self.credits_remaining = credits_remaining
        self.retry_after = retry_after
        self.headers = dict(headers or {})

    def response(self) -> web.Response:
        body = ErrorBody(
            error=self.error,
            details=self.details,
            request_id=current_request_id(),
            credits_required=self.credits_required,
            credits_remaining=self.credits_remaining,
            retry_after=self.retry_after,
        )
        headers = dict(self.headers)
        if self.retry_after is not None:
            headers.setdefault("Retry-After", str(self.retry_after))
        return web.json_response(body.model_dump(), status=self.status, headers=headers)


class RequestValidationError(Exception):
    """A 422 with pydantic-shaped items; `loc` starts with body/query/path/header."""

    def __init__(self, items: Sequence[dict[str, Any]]) -> None:
        super().__init__("validation failed")
        self.items = list(items)

    @classmethod
    def from_pydantic(cls, exc: ValidationError, where: str = "body") -> RequestValidationError:
        return cls(
            [
                {"loc": [where, *err["loc"]], "msg": err["msg"], "type": err["type"]}
                for err in exc.errors(include_url=False, include_context=False)
            ]
        )

    def response(self) -> web.Response:
        body = ValidationErrorBody(detail=[ValidationErrorItem(**i) for i in self.items])
        return web.json_response(body.model_dump(), status=422)


# aiohttp's own HTTP errors (404 no route, 405, 413 from client_max_size) keep their status but
# get our body, never aiohttp's text/HTML page.
_REASONS = {
    404: "Not found",
    405: "Method not allowed",
    413: "Request body too large",
}


@web.middleware
async def error_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    try:
        return await handler(request)
    except ApiError as exc:
        return exc.response()
    except InsufficientCredits as exc:  # a service debited on its own (not via `charge`)
        return ApiError(
            402,
            "Insufficient credits",
            details={"credits_required": exc.required, "credits_remaining": exc.remaining},
            credits_required=exc.required,
            credits_remaining=exc.remaining,
        ).response()
    except RequestValidationError as exc:  # raised by the parse paths (bridge/web/validation.py)
        return exc.response()
    except web.HTTPException as exc:
        if exc.status < 400:
            raise
        error = _REASONS.get(exc.status, exc.reason)
        details = None
        if exc.status == 413:
            details = {"max_bytes": request.app[SETTINGS].max_body_bytes}
        headers = {k: v for k, v in exc.headers.items() if k.lower() == "allow"}
        return ApiError(exc.status, error, details=details, headers=headers).response()
    except Exception:
        # A bug, not bad input: log it with the request id, answer without a traceback. A
        # pydantic ValidationError lands here too: client input is validated only by the parse
        # paths, so one escaping a handler comes from a model built from our own data.
        log.exception("unhandled error", path=request.path, method=request.method)
        return ApiError(500, "Internal server error").response()
