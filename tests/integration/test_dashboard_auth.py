"""Dashboard sign-in without a browser: CSRF, origin, scopes, tampered and expired cookies."""

from __future__ import annotations

import re
from typing import Any

import pytest

from bridge.app import create_app
from bridge.dashboard.session import COOKIE, DashboardSession, SessionCodec
from bridge.db import Database
from bridge.tenants import service as tenants
from bridge.web.auth import VERIFIER
from bridge.web.secret_key import secret_key
from config.settings import Settings


@pytest.fixture
async def client(aiohttp_client: Any, settings: Settings) -> Any:
    # aiohttp's client keeps Secure cookies off plain HTTP; Chromium's handling of the Secure
    # flag on localhost is covered by test_dashboard_browser.
    plain = settings.model_copy(update={"dashboard_cookie_secure": False})
    return await aiohttp_client(create_app(plain))


async def test_cookies_are_secure_by_default(aiohttp_client: Any, settings: Settings) -> None:
    client = await aiohttp_client(create_app(settings))
    page = await client.get("/dashboard/login")
    header = page.headers["Set-Cookie"]
    assert "Secure" in header and "HttpOnly" in header and "SameSite=Strict" in header


async def form(client: Any) -> str:
    page = await client.get("/dashboard/login")
    assert page.status == 200
    assert page.headers["X-Frame-Options"] == "DENY"
    assert "script-src 'self'" in page.headers["Content-Security-Policy"]
    return re.search(r'name="csrf" value="([^"]+)"', await page.text()).group(1)


async def test_sign_in_rules(client: Any, db: Database) -> None:
    key = tenants.create_key(db, "acme").key
    forms_only = tenants.create_key(db, "acme", scopes=["forms"]).key
    assert (await client.get("/dashboard", allow_redirects=False)).headers["Location"] == (
        "/dashboard/login"
    )
    assert (await client.get("/dashboard/data")).status == 401
    # No CSRF token, a wrong one, or a cross-site origin: refused.
    token = await form(client)
    post = "/dashboard/login"
    assert (await client.post(post, data={"api_key": key})).status == 403
    assert (await client.post(post, data={"api_key": key, "csrf": "x" + token})).status == 403
    token = await form(client)
    evil = {"Origin": "https://evil.example"}
    resp = await client.post(post, data={"api_key": key, "csrf": token}, headers=evil)
    assert resp.status == 403
    # A key that may not read logs, then a bad key.
    token = await form(client)
    assert (await client.post(post, data={"api_key": forms_only, "csrf": token})).status == 403
    token = await form(client)
    assert (await client.post(post, data={"api_key": "brk_nope", "csrf": token})).status == 401
    token = await form(client)
    resp = await client.post(post, data={"api_key": key, "csrf": token}, allow_redirects=False)
    assert resp.status == 303
    cookie = resp.cookies[COOKIE]
    assert cookie["httponly"] and cookie["samesite"] == "Strict"
    assert key not in cookie.value
    assert (await client.get("/dashboard/data")).status == 200


async def test_tampered_expired_and_revoked_sessions(
    client: Any, settings: Settings, db: Database
) -> None:
    created = tenants.create_key(db, "acme")
    codec = SessionCodec(secret_key(settings), max_age_seconds=3600)  # the app's own key
    good = codec.seal(DashboardSession(api_key=created.key, csrf="c"))
    client.session.cookie_jar.update_cookies({COOKIE: good})
    assert (await client.get("/dashboard/data")).status == 200
    client.session.cookie_jar.update_cookies({COOKIE: good[:-4] + "AAAA"})
    assert (await client.get("/dashboard/data")).status == 401
    other = SessionCodec(b"another-secret-of-enough-length-000000", 3600)
    client.session.cookie_jar.update_cookies(
        {COOKIE: other.seal(DashboardSession(api_key=created.key, csrf="c"))}
    )
    assert (await client.get("/dashboard/data")).status == 401
    assert SessionCodec(secret_key(settings), max_age_seconds=-1).open(good) is None  # expired
    tenants.revoke_key(db, created.key_id)
    client.app[VERIFIER].forget()  # the 5 s cache, not the revocation, is what we skip
    client.session.cookie_jar.update_cookies({COOKIE: good})
    assert (await client.get("/dashboard/data")).status == 401
