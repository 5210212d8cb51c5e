"""Thin handlers: POST /v1/agents/phone, /email, /phone-email, /deep-research (202 at once) and
GET /v1/agents/runs/{run_id}/status.

The run is written to SQL and handed to the workers through Celery (`agents.run`); nothing of
the work happens in the web process.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable

from aiohttp import web
from pydantic import BaseModel

from bridge.agents import service
from bridge.agents.models import (
    BatchAccepted,
    DeepResearchBatchRequest,
    PersonBatchRequest,
    RunStatusResponse,
)
from bridge.agents.storage import LocalStore, S3Store, store_from_settings
from bridge.ai.api import AI
from bridge.credits import service as credits
from bridge.web.appkeys import DB, SETTINGS
from bridge.web.auth import principal
from bridge.web.endpoints import EndpointTable
from bridge.web.errors import ApiError
from bridge.web.responses import json_model
from bridge.web.validation import parse_body

STORAGE = web.AppKey("agents_storage", LocalStore | S3Store)  # type: ignore[arg-type]
PUBLISH = web.AppKey("agents_publish", Callable[[str], None])  # type: ignore[arg-type]


class _AgentEndpoints(EndpointTable):
    def install(self, app: web.Application) -> None:
        super().install(app)
        app.cleanup_ctx.append(_resources)


async def _resources(app: web.Application) -> AsyncIterator[None]:
    # The web door's one tie to Celery: publishing a run id by task name.
    from workers.celery_app import create_celery_app

    celery = create_celery_app(app[SETTINGS])
    app[STORAGE] = store_from_settings(app[SETTINGS])
    app[PUBLISH] = lambda run_id: celery.send_task(service.RUN_TASK, args=[run_id])
    yield
    celery.close()


routes = _AgentEndpoints(tags=("Batch Agents",))

_RESPONSES = {402: "Insufficient credits", 429: "Rate limit exceeded"}
_PEOPLE = (
    " People are Salesforce Lead/Contact ids or inline `records` (id, first_name, last_name, "
    "company_name, company_url, linkedin, email). Records with missing required fields are "
    "skipped and counted; a record's charge is capped at what is left of `max_credits`, and "
    "the run stops once none is left."
)


async def _submit(request: web.Request, agent: str, model: type[BaseModel]) -> web.Response:
    body = await parse_body(request, model)
    tenant_id = principal(request).tenant_id
    app = request.app
    remaining = await asyncio.to_thread(credits.remaining, app[DB], tenant_id)
    if remaining < 1:
        raise ApiError(402, "Insufficient credits", credits_required=1, credits_remaining=remaining)
    if agent == "deep-research":
        effort = body.effort  # type: ignore[attr-defined]
        if not app[AI].configured(effort):
            raise ApiError(
                503,
                "AI enrichment is not configured",
                details="deep research needs BRIDGE_AI_BASE_URL and BRIDGE_AI_MODEL",
            )
    accepted = await asyncio.to_thread(
        service.submit,
        app[DB],
        app[STORAGE],
        tenant_id,
        agent,
        body,
        app[PUBLISH],  # type: ignore[arg-type]
    )
    return json_model(accepted, status=202)


def _declare(path: str, agent: str, summary: str, text: str, model: type[BaseModel]) -> None:
    async def handler(request: web.Request) -> web.Response:
        return await _submit(request, agent, model)

    handler.__name__ = f"agents_{agent.replace('-', '_')}"
    routes.post(
        path,
        summary=summary,
        description=text,
        area="batch",
        credits="Per record: 5 per phone found, 5 per email found; deep research by the AI "
        "credit bands of each answer; never more than max_credits",
        body=model,
        response=BatchAccepted,
        status=202,
        responses=_RESPONSES,
    )(handler)


_declare(
    "/v1/agents/phone",
    "phone",
    "Phone enrichment batch",
    "1-1,000 people enriched with phone numbers on the workers." + _PEOPLE,
    PersonBatchRequest,
)
_declare(
    "/v1/agents/email",
    "email",
    "Email enrichment batch",
    "1-1,000 people enriched with email addresses on the workers." + _PEOPLE,
    PersonBatchRequest,
)
_declare(
    "/v1/agents/phone-email",
    "phone-email",
    "Phone & email enrichment batch",
    "1-1,000 people enriched with phone numbers and email addresses." + _PEOPLE,
    PersonBatchRequest,
)
_declare(
    "/v1/agents/deep-research",
    "deep-research",
    "Deep research batch",
    "1-1,000 people (Lead/Contact ids) or companies (Account ids) researched by the "
    "chosen agent with the configured language model. 503 when no model is configured.",
    DeepResearchBatchRequest,
)


@routes.get(
    "/v1/agents/runs/{run_id}/status",
    summary="Get run status",
    description="queued, running, completed or failed, with counts and timestamps.",
    # Polled, so limited like the sync endpoints; a key scoped to batch agents may poll.
    area="sync",
    scope="batch",
    response=RunStatusResponse,
    responses={400: "Invalid run ID format", 404: "Run not found"},
)
async def run_status(request: web.Request) -> web.Response:
    try:
        run_id = service.parse_run_id(request.match_info["run_id"])
    except service.InvalidRunId as exc:
        raise ApiError(400, "Invalid run ID format", details=str(exc)) from None
    found = await asyncio.to_thread(
        service.status, request.app[DB], principal(request).tenant_id, run_id
    )
    if found is None:
        raise ApiError(404, "Run not found", details={"run_id": run_id})
    return json_model(found)
