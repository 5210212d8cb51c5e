"""`Idempotency-Key` for POST endpoints (IETF draft-ietf-httpapi-idempotency-key-header).

    @routes.post("/v1/...", ...)
    @idempotent
    async def handler(request): key = idempotency_key(request) ...

A request carrying `Idempotency-Key` is fingerprinted (method, path, query, canonical JSON
body). The first one with a key runs; while it runs, a retry gets 409 (`Retry-After: 1`);
once it completed successfully (2xx), a retry with the same body gets the stored response
again (`Idempotent-Replayed: true`) and the handler does not run; the same key with a
different body is a 422. Failures (4xx/5xx) are not stored: the key is released so the client
may retry once the cause is fixed. Keys are scoped per tenant and endpoint and kept
`idempotency_ttl_seconds` (at least 24 h); a crashed first attempt releases its claim after
`idempotency_lock_seconds`.
"""

from __future__ import annotations

import base64
import functools
import hashlib
import json
import uuid
from dataclasses import dataclass
from typing import Any

import redis.asyncio as aioredis
from aiohttp import web

from bridge.web.appkeys import REDIS, SETTINGS
from bridge.web.auth import principal
from bridge.web.errors import ApiError, Handler, RequestValidationError
from bridge.web.validation import decode_json

HEADER = "Idempotency-Key"
REPLAYED = "Idempotent-Replayed"
PREFIX = "bridge:idempotency:"
MAX_LENGTH = 255
IDEMPOTENCY_KEY = web.RequestKey("idempotency_key", str)

_RELEASE = """
local raw = redis.call('GET', KEYS[1])
if raw and cjson.decode(raw)['token'] == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
"""


@dataclass(frozen=True)
class Stored:
    status: int
    body: bytes
    content_type: str

    def response(self) -> web.Response:
        return web.Response(
            body=self.body,
            status=self.status,
            content_type=self.content_type,
            headers={REPLAYED: "true"},
        )


@dataclass(frozen=True)
class Claim:
    """The outcome of claiming a key: `token` set means this request runs."""

    token: str | None = None
    replay: Stored | None = None
    running: bool = False
    mismatch: bool = False


class IdempotencyStore:
    def __init__(self, client: aioredis.Redis, ttl: int = 86400, lock_ttl: int = 120) -> None:
        self.client = client
        self.ttl = ttl
        self.lock_ttl = lock_ttl

    @staticmethod
    def redis_key(scope: str, key: str) -> str:
        return PREFIX + hashlib.sha256(f"{scope}\n{key}".encode()).hexdigest()

    async def claim(self, scope: str, key: str, fingerprint: str) -> Claim:
        name = self.redis_key(scope, key)
        token = uuid.uuid4().hex
        running = json.dumps({"state": "running", "fp": fingerprint, "token": token})
        for _ in range(3):  # the holder may finish or expire between SET and GET
            if await self.client.set(name, running, nx=True, ex=self.lock_ttl):
                return Claim(token=token)
            raw = await self.client.get(name)
            if raw is None:
                continue
            entry = json.loads(raw)
            if entry["fp"] != fingerprint:
                return Claim(mismatch=True)
            if entry["state"] == "running":
                return Claim(running=True)
            return Claim(
                replay=Stored(entry["status"], base64.b64decode(entry["body"]), entry["type"])
            )
        return Claim(running=True)

    async def complete(
        self, scope: str, key: str, fingerprint: str, stored: Stored, token: str
    ) -> None:
        entry = {
            "state": "done",
            "fp": fingerprint,
            "token": token,
            "status": stored.status,
            "body": base64.b64encode(stored.body).decode(),
            "type": stored.content_type,
        }
        await self.client.set(self.redis_key(scope, key), json.dumps(entry), ex=self.ttl)

    async def release(self, scope: str, key: str, token: str) -> None:
        await self.client.eval(_RELEASE, 1, self.redis_key(scope, key), token)


def parse_key(raw: str) -> str:
    """The header is a structured-field string (`"abc"`); a bare token is accepted too."""
    value = raw.strip()
    if len(value) >= 2 and value[0] == value[-1] == '"':
        value = value[1:-1]
    if not value or len(value) > MAX_LENGTH or not all(32 < ord(c) < 127 for c in value):
        raise ApiError(
            400,
            "Invalid Idempotency-Key header",
            details={"max_length": MAX_LENGTH, "allowed": "printable ASCII without spaces"},
        )
    return value


def fingerprint(method: str, path: str, query: str, body: bytes) -> str:
    try:
        canonical = json.dumps(decode_json(body), sort_keys=True, separators=(",", ":")).encode()
    except RequestValidationError:
        canonical = body  # not JSON we accept: the handler answers 422 and the key is released
    digest = hashlib.sha256(f"{method} {path}?{query}\n".encode())
    digest.update(canonical)
    return digest.hexdigest()


def idempotency_key(request: web.Request) -> str | None:
    return request.get(IDEMPOTENCY_KEY)


def store_for(request: web.Request) -> IdempotencyStore:
    settings = request.app[SETTINGS]
    return IdempotencyStore(
        request.app[REDIS], settings.idempotency_ttl_seconds, settings.idempotency_lock_seconds
    )


def idempotent(handler: Handler) -> Handler:
    """Wrap a handler so `Idempotency-Key` retries are safe (see the module docstring)."""

    @functools.wraps(handler)
    async def wrapper(request: web.Request) -> web.StreamResponse:
        raw = request.headers.get(HEADER)
        if raw is None:
            return await handler(request)
        key = parse_key(raw)
        tenant_id = principal(request).tenant_id
        canonical = request.match_info.route.resource.canonical  # type: ignore[union-attr]
        scope = f"{tenant_id}:{request.method} {canonical}"
        body = await request.read()  # cached by aiohttp: the handler reads it again
        print_ = fingerprint(request.method, request.path, request.query_string, body)
        store = store_for(request)
        claim = await store.claim(scope, key, print_)
        if claim.replay is not None:
            return claim.replay.response()
        if claim.mismatch:
            raise RequestValidationError(
                [
                    {
                        "loc": ["header", HEADER],
                        "msg": "Idempotency-Key was already used with a different request",
                        "type": "idempotency_key_reused",
                    }
                ]
            )
        if claim.token is None:
            raise ApiError(
                409,
                "A request with this Idempotency-Key is still being processed",
                details={"idempotency_key": key},
                retry_after=1,
            )
        request[IDEMPOTENCY_KEY] = key
        try:
            response = await handler(request)
        except BaseException:
            await store.release(scope, key, claim.token)
            raise
        if isinstance(response, web.Response) and 200 <= response.status < 300:
            stored = Stored(response.status, _body(response), response.content_type)
            await store.complete(scope, key, print_, stored, claim.token)
        else:
            await store.release(scope, key, claim.token)
        return response

    return wrapper


def _body(response: web.Response) -> bytes:
    body: Any = response.body
    if body is None:
        return b""
    if isinstance(body, bytes | bytearray):
        return bytes(body)
    return bytes(getattr(body, "_value", b""))
