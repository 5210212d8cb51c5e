"""Thin handlers: POST /v1/enrich/ai and /v1/enrich/research.

One credit is reserved before the model is asked (an empty account gets its 402 without a
model call); the rest of the documented band is debited once the answer's size is known,
capped by `max_credits` and by what the account has left (the docs: max_credits "defaults to
your account limit"), so a caller never gets a 402 for an answer the model already gave. A
failed call is refunded. No configured model: 503, never a made-up answer.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator

from aiohttp import web

from bridge.ai.errors import AiBadAnswer, AiNotConfigured, AiUnavailable
from bridge.ai.models import (
    AIEnrichRequest,
    AIEnrichResponse,
    DeepResearchRequest,
    TokenUsage,
)
from bridge.ai.service import AiService, Question
from bridge.web.appkeys import SETTINGS
from bridge.web.charging import CREDITS_REMAINING, charge, charge_up_to, refund_charge
from bridge.web.endpoints import EndpointTable
from bridge.web.errors import ApiError
from bridge.web.responses import json_model
from bridge.web.validation import parse_body

AI = web.AppKey("ai_service", AiService)


class _AiEndpoints(EndpointTable):
    def install(self, app: web.Application) -> None:
        super().install(app)
        app.cleanup_ctx.append(_service)


async def _service(app: web.Application) -> AsyncIterator[None]:
    app[AI] = AiService.from_settings(app[SETTINGS])
    yield
    app[AI].close()


routes = _AiEndpoints(tags=("Enrichment",))

_ERRORS = {
    402: "Insufficient credits",
    502: "The language model failed or answered unusable output",
    503: "No language model is configured",
}
_CREDITS = (
    "Simple 1-3, standard 3-6, complex 6-12 credits by response size; JSON output +1 "
    "(+2 when a retry was needed for valid JSON); at most max_credits or what the account "
    "has left"
)


async def _answer(request: web.Request, body: AIEnrichRequest | DeepResearchRequest,
                  research: bool) -> web.Response:  # fmt: skip
    started = time.perf_counter()
    service = request.app[AI]
    if not service.configured(body.effort):
        raise ApiError(
            503,
            "AI enrichment is not configured",
            details=f"no language model is configured for effort={body.effort!r}; set "
            "BRIDGE_AI_BASE_URL and BRIDGE_AI_MODEL",
        )
    question = Question(
        query=body.query, effort=body.effort, agent_type=body.agent_type or "general",
        format_json=body.format_json, research=research,
    )  # fmt: skip
    reserved = await charge(request, 1)
    try:
        answer = await asyncio.to_thread(service.ask, question)
    except AiNotConfigured as exc:
        await refund_charge(request, reserved)
        raise ApiError(503, "AI enrichment is not configured", details=str(exc)) from None
    except (AiUnavailable, AiBadAnswer) as exc:
        await refund_charge(request, reserved)
        raise ApiError(502, "AI provider error", details=str(exc)) from None
    except Exception:
        await refund_charge(request, reserved)
        raise
    cost = min(answer.credits, body.max_credits) if body.max_credits else answer.credits
    try:
        extra = (await charge_up_to(request, cost - 1)).amount
    except Exception:
        await refund_charge(request, reserved)
        raise
    return json_model(
        AIEnrichResponse(
            success=True, query=body.query, response=answer.response,
            confidence=answer.confidence, credits_consumed=1 + extra,
            # As X-Credits-Remaining says: the last charge's balance with the ingest lease.
            credits_remaining=request[CREDITS_REMAINING],
            token_usage=TokenUsage(prompt_tokens=answer.prompt_tokens,
                                   completion_tokens=answer.completion_tokens,
                                   total_tokens=answer.total_tokens),
            processing_time_ms=round((time.perf_counter() - started) * 1000),
            agent_used=answer.agent_used,
        )
    )  # fmt: skip


@routes.post(
    "/v1/enrich/ai",
    summary="AI enrichment",
    description="Sends a query to the configured language model (OpenAI-compatible endpoint; "
    "one model per effort level) with the agent type's system prompt. With "
    "`options.format_json` the response is a validated JSON object (one retry on invalid "
    "JSON). `confidence` is the mean token probability when the provider reports it, else null.",
    area="sync",
    credits=_CREDITS,
    body=AIEnrichRequest,
    response=AIEnrichResponse,
    responses=_ERRORS,
)
async def enrich_ai(request: web.Request) -> web.Response:
    return await _answer(request, await parse_body(request, AIEnrichRequest), research=False)


@routes.post(
    "/v1/enrich/research",
    summary="Deep research",
    description="Research with the configured language model; when a search tool is configured "
    "(BRIDGE_AI_SEARCH_URL) its results are given to the model to cite, otherwise the answer "
    "states that it could not be checked against current sources.",
    area="sync",
    credits=_CREDITS,
    body=DeepResearchRequest,
    response=AIEnrichResponse,
    responses=_ERRORS,
)
async def enrich_research(request: web.Request) -> web.Response:
    return await _answer(request, await parse_body(request, DeepResearchRequest), research=True)
