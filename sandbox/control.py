"""Control API under `/_sandbox/` for tests and demos (JSON in, JSON out).

Allowed without credentials from loopback addresses; from anywhere else it needs
`Authorization: Bearer <client secret>`. Calls here never count against the API budget and
are never hit by injected faults. See sandbox/README.md for the endpoint list.
"""

from __future__ import annotations

import hmac
import ipaddress
import json
from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import web

from sandbox.auth import bearer_token
from sandbox.errors import SalesforceError
from sandbox.seed import seed_org
from sandbox.state import SandboxState
from sandbox.store import quote

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def _state(request: web.Request) -> SandboxState:
    return request.app["sandbox"]  # type: ignore[no-any-return]


def _allowed(request: web.Request) -> bool:
    try:
        if request.remote and ipaddress.ip_address(request.remote).is_loopback:
            return True
    except ValueError:
        pass
    token = bearer_token(request) or ""
    return hmac.compare_digest(token, _state(request).issuer.client_secret)


def _guard(handler: Handler) -> Handler:
    async def guarded(request: web.Request) -> web.StreamResponse:
        if not _allowed(request):
            return web.json_response({"error": "forbidden"}, status=403)
        try:
            return await handler(request)
        except SalesforceError as error:
            return web.json_response(error.body(), status=error.status)
        except (ValueError, KeyError, TypeError) as error:
            return web.json_response({"error": str(error)}, status=400)

    return guarded


async def _body(request: web.Request) -> dict[str, Any]:
    text = await request.text()
    data = json.loads(text) if text.strip() else {}
    if not isinstance(data, dict):
        raise ValueError("expected a JSON object")
    return data


async def status(request: web.Request) -> web.Response:
    state = _state(request)
    counts = {
        name: state.db.conn.execute(
            f'SELECT COUNT(*) FROM {quote(name)} WHERE "IsDeleted" = 0'  # noqa: S608
        ).fetchone()[0]
        for name in state.schema.objects
    }
    return web.json_response({
        "org_id": state.db.org_id,
        "integration_user_id": state.db.integration_user_id,
        "instance_url": state.issuer.instance_url,
        "api_usage": {"used": state.usage.used, "limit": state.usage.limit},
        "token_lifetime": state.sessions.lifetime,
        "records": counts,
        "faults": [r.public() for r in state.faults.rules],
        "callouts": state.callouts.snapshot(limit=0),
    })  # fmt: skip


async def faults_get(request: web.Request) -> web.Response:
    return web.json_response([r.public() for r in _state(request).faults.rules])


async def faults_add(request: web.Request) -> web.Response:
    state = _state(request)
    body = await _body(request)
    if request.method == "PUT":
        state.faults.clear()
    specs = body.get("rules", [body] if body else [])
    rules = [state.faults.add(spec) for spec in specs]
    return web.json_response([r.public() for r in rules])


async def faults_clear(request: web.Request) -> web.Response:
    _state(request).faults.clear()
    return web.json_response([])


async def callouts_get(request: web.Request) -> web.Response:
    limit = int(request.query.get("limit", "200"))
    return web.json_response(_state(request).callouts.snapshot(limit))


async def callouts_set(request: web.Request) -> web.Response:
    state = _state(request)
    state.callouts.config.update(await _body(request))
    return web.json_response(state.callouts.snapshot(limit=0))


async def limits_get(request: web.Request) -> web.Response:
    usage = _state(request).usage
    return web.json_response({"used": usage.used, "limit": usage.limit})


async def limits_set(request: web.Request) -> web.Response:
    usage = _state(request).usage
    body = await _body(request)
    if "limit" in body:
        usage.limit = int(body["limit"])
    if "used" in body:
        usage.set_used(int(body["used"]))
    return web.json_response({"used": usage.used, "limit": usage.limit})


async def tokens_expire(request: web.Request) -> web.Response:
    body = await _body(request)
    expired = _state(request).sessions.expire(body.get("token"))
    return web.json_response({"expired": expired})


async def tokens_set(request: web.Request) -> web.Response:
    sessions = _state(request).sessions
    body = await _body(request)
    sessions.lifetime = float(body["lifetime"])
    return web.json_response({"lifetime": sessions.lifetime})


async def jwt_keys(request: web.Request) -> web.Response:
    sessions = _state(request).sessions
    body = await _body(request)
    sessions.register_jwt_key(str(body["pem"]))
    return web.json_response({"keys": len(sessions.jwt_keys())})


async def reset(request: web.Request) -> web.Response:
    state = _state(request)
    state.db.reset()
    state.faults.clear()
    state.engine.cursors.clear()
    return web.json_response({"org_id": state.db.org_id})


async def seed(request: web.Request) -> web.Response:
    state = _state(request)
    body = await _body(request)
    counts = seed_org(
        state.db, users=int(body.get("users", 0)), accounts=int(body.get("accounts", 0)),
        contacts=int(body.get("contacts", 0)), leads=int(body.get("leads", 0)),
        seed=body.get("seed"),
    )  # fmt: skip
    return web.json_response(counts)


def _as_user(request: web.Request, body: dict[str, Any]) -> str:
    return str(body.get("as_user") or _state(request).db.integration_user_id)


async def record_create(request: web.Request) -> web.Response:
    state = _state(request)
    body = await _body(request)
    with state.write(_as_user(request, body)) as tx:
        record_id = tx.create(request.match_info["sobject"], body.get("fields", {}))
    return web.json_response({"id": record_id}, status=201)


async def record_update(request: web.Request) -> web.Response:
    state = _state(request)
    body = await _body(request)
    with state.write(_as_user(request, body)) as tx:
        record_id = tx.update(
            request.match_info["sobject"], request.match_info["record_id"],
            body.get("fields", {}), system=bool(body.get("system", False)),
        )  # fmt: skip
    return web.json_response({"id": record_id})


async def undelete(request: web.Request) -> web.Response:
    state = _state(request)
    body = await _body(request)
    results: list[dict[str, Any]] = []
    with state.write(_as_user(request, body)) as tx:
        for record_id in body.get("ids", []):
            try:
                with tx.savepoint():
                    results.append({"id": tx.undelete(str(record_id)), "success": True,
                                    "errors": []})  # fmt: skip
            except SalesforceError as error:
                results.append({"id": record_id, "success": False,
                                "errors": [error.record_error()]})  # fmt: skip
    return web.json_response(results)


def add_routes(app: web.Application) -> None:
    r = app.router
    r.add_get("/_sandbox/status", _guard(status))
    r.add_get("/_sandbox/faults", _guard(faults_get))
    r.add_post("/_sandbox/faults", _guard(faults_add))
    r.add_put("/_sandbox/faults", _guard(faults_add))
    r.add_delete("/_sandbox/faults", _guard(faults_clear))
    r.add_get("/_sandbox/callouts", _guard(callouts_get))
    r.add_put("/_sandbox/callouts", _guard(callouts_set))
    r.add_patch("/_sandbox/callouts", _guard(callouts_set))
    r.add_get("/_sandbox/limits", _guard(limits_get))
    r.add_put("/_sandbox/limits", _guard(limits_set))
    r.add_post("/_sandbox/tokens/expire", _guard(tokens_expire))
    r.add_put("/_sandbox/tokens", _guard(tokens_set))
    r.add_post("/_sandbox/jwt-keys", _guard(jwt_keys))
    r.add_post("/_sandbox/reset", _guard(reset))
    r.add_post("/_sandbox/seed", _guard(seed))
    r.add_post("/_sandbox/records/{sobject}", _guard(record_create))
    r.add_patch("/_sandbox/records/{sobject}/{record_id}", _guard(record_update))
    r.add_post("/_sandbox/undelete", _guard(undelete))
