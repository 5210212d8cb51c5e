"""OAuth 2.0 token endpoint and sessions.

Grant types: `client_credentials` (runs as the integration user), `password` (any active user's
Username, password `sandbox-password`, optionally followed by the security token
`SANDBOXTOKEN`), and JWT bearer (`urn:ietf:params:oauth:grant-type:jwt-bearer`: an RS256
assertion with iss = client id, sub = username, aud = login/test.salesforce.com or the instance
URL, verified against a registered public key or certificate).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
import time
from dataclasses import dataclass
from typing import Any

import jwt
from aiohttp import BasicAuth, web
from cryptography import x509
from cryptography.hazmat.primitives.serialization import load_pem_public_key

from sandbox.errors import invalid_session
from sandbox.store import Database

SANDBOX_PASSWORD = "sandbox-password"  # noqa: S105  (a local test org's fixed password)
SECURITY_TOKEN = "SANDBOXTOKEN"  # noqa: S105
JWT_GRANT = "urn:ietf:params:oauth:grant-type:jwt-bearer"
JWT_AUDIENCES = ("https://login.salesforce.com", "https://test.salesforce.com")


@dataclass
class Session:
    token: str
    user_id: str
    client_id: str
    expires_at: float


class Sessions:
    def __init__(self, db: Database, lifetime: float) -> None:
        self.db = db
        self.lifetime = lifetime

    def issue(self, user_id: str, client_id: str) -> tuple[str, int]:
        token = f"{self.db.org_id}!{secrets.token_urlsafe(72)}"
        issued = time.time()
        with self.db.transaction() as conn:
            conn.execute(
                "INSERT INTO _sessions(token, user_id, client_id, issued_at, expires_at) "
                "VALUES (?, ?, ?, ?, ?)",
                (token, user_id, client_id, issued, issued + self.lifetime),
            )
        return token, int(issued * 1000)

    def lookup(self, token: str | None) -> Session:
        """The live session for `token`, or 401 INVALID_SESSION_ID."""
        if not token:
            raise invalid_session()
        row = self.db.conn.execute(
            "SELECT s.user_id, s.client_id, s.expires_at, u.IsActive FROM _sessions s "
            'JOIN "User" u ON u."Id" = s.user_id WHERE s.token = ?',
            (token,),
        ).fetchone()
        if row is None or row[2] <= time.time() or not row[3]:
            raise invalid_session()
        return Session(token, str(row[0]), str(row[1]), float(row[2]))

    def expire(self, token: str | None = None) -> int:
        with self.db.transaction() as conn:
            if token is None:
                cursor = conn.execute("UPDATE _sessions SET expires_at = 0")
            else:
                cursor = conn.execute(
                    "UPDATE _sessions SET expires_at = 0 WHERE token = ?", (token,)
                )
            return cursor.rowcount

    def register_jwt_key(self, pem: str) -> None:
        _public_key(pem)  # validate
        with self.db.transaction() as conn:
            conn.execute("INSERT OR IGNORE INTO _jwt_keys(pem) VALUES (?)", (pem.strip(),))

    def jwt_keys(self) -> list[str]:
        return [str(r[0]) for r in self.db.conn.execute("SELECT pem FROM _jwt_keys")]


def _public_key(pem: str) -> Any:
    data = pem.strip().encode()
    if b"CERTIFICATE" in data:
        return x509.load_pem_x509_certificate(data).public_key()
    return load_pem_public_key(data)


class OAuthError(Exception):
    def __init__(self, error: str, description: str, status: int = 400) -> None:
        super().__init__(description)
        self.error = error
        self.description = description
        self.status = status


@dataclass
class TokenIssuer:
    sessions: Sessions
    client_id: str
    client_secret: str
    instance_url: str

    def identity_url(self, user_id: str) -> str:
        return f"{self.instance_url}/id/{self.sessions.db.org_id}/{user_id}"

    def _check_client(
        self, client_id: str | None, secret: str | None, *, need_secret: bool
    ) -> None:
        if client_id != self.client_id:
            raise OAuthError("invalid_client_id", "client identifier invalid")
        if need_secret and not hmac.compare_digest(secret or "", self.client_secret):
            raise OAuthError("invalid_client", "invalid client credentials")

    def _user(self, username: str | None) -> dict[str, Any]:
        user = self.sessions.db.find_user(username or "")
        if user is None or not user["IsActive"]:
            raise OAuthError("invalid_grant", "authentication failure")
        return user

    def _jwt_user(self, assertion: str) -> dict[str, Any]:
        audiences = [*JWT_AUDIENCES, self.instance_url]
        for pem in self.sessions.jwt_keys():
            try:
                claims = jwt.decode(
                    assertion, _public_key(pem), algorithms=["RS256"], audience=audiences,
                    options={"require": ["exp", "iss", "sub", "aud"]},
                )  # fmt: skip
            except jwt.ExpiredSignatureError:
                raise OAuthError("invalid_grant", "expired authorization code") from None
            except jwt.InvalidAudienceError:
                raise OAuthError("invalid_grant", "audience is invalid") from None
            except jwt.PyJWTError:
                continue
            self._check_client(claims.get("iss"), None, need_secret=False)
            user = self.sessions.db.find_user(str(claims["sub"]))
            if user is None or not user["IsActive"]:
                raise OAuthError("invalid_grant", "user hasn't approved this consumer")
            return user
        raise OAuthError("invalid_grant", "invalid assertion")

    def grant(self, form: dict[str, str], basic: BasicAuth | None) -> dict[str, Any]:
        grant_type = form.get("grant_type")
        client_id = form.get("client_id") or (basic.login if basic else None)
        secret = form.get("client_secret") or (basic.password if basic else None)
        if grant_type == "client_credentials":
            self._check_client(client_id, secret, need_secret=True)
            user_id = self.sessions.db.integration_user_id
        elif grant_type == "password":
            self._check_client(client_id, secret, need_secret=True)
            user = self._user(form.get("username"))
            password = form.get("password", "")
            if password not in (SANDBOX_PASSWORD, SANDBOX_PASSWORD + SECURITY_TOKEN):
                raise OAuthError("invalid_grant", "authentication failure")
            user_id = str(user["Id"])
        elif grant_type == JWT_GRANT:
            user_id = str(self._jwt_user(form.get("assertion", ""))["Id"])
            client_id = self.client_id
        else:
            raise OAuthError("unsupported_grant_type", "grant type not supported")
        token, issued_at = self.sessions.issue(user_id, client_id or self.client_id)
        identity = self.identity_url(user_id)
        signature = base64.b64encode(
            hmac.new(
                self.client_secret.encode(), f"{identity}{issued_at}".encode(), hashlib.sha256
            ).digest()
        ).decode()
        return {
            "access_token": token,
            "instance_url": self.instance_url,
            "id": identity,
            "token_type": "Bearer",
            "issued_at": str(issued_at),
            "signature": signature,
            "scope": "api",
        }


async def token_endpoint(request: web.Request) -> web.Response:
    """POST /services/oauth2/token (form encoded)."""
    issuer: TokenIssuer = request.app["sandbox"].issuer
    form = {k: str(v) for k, v in (await request.post()).items()}
    basic = None
    if request.headers.get("Authorization", "").startswith("Basic "):
        try:
            basic = BasicAuth.decode(request.headers["Authorization"])
        except ValueError:
            basic = None
    try:
        return web.json_response(issuer.grant(form, basic))
    except OAuthError as error:
        return web.json_response(
            {"error": error.error, "error_description": error.description}, status=error.status
        )


def bearer_token(request: web.Request) -> str | None:
    header = request.headers.get("Authorization", "")
    for scheme in ("Bearer ", "OAuth "):
        if header.startswith(scheme):
            return header[len(scheme) :].strip()
    return None
