"""Getting an access token: JWT bearer, client credentials, password, and the local sandbox.

We fetch tokens ourselves and give simple-salesforce only `session_id` + `instance_url`:
its own login helpers build `https://{domain}.salesforce.com` (no emulator, no custom login
host) and its refresh-and-retry loop is unbounded inside `SFType`. Owning the token lets the
gateway refresh exactly once on INVALID_SESSION_ID.

Secrets stay in `SecretStr`/private attributes, and `AccessToken` never shows its token in a
repr, so nothing here can leak into a log line.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol
from urllib.parse import urlparse

import jwt
import requests
from simple_salesforce import SalesforceLogin
from simple_salesforce.exceptions import SalesforceAuthenticationFailed

from bridge.salesforce.errors import AuthenticationFailed, TransientError, error_for

if TYPE_CHECKING:
    from config.settings import Settings

TOKEN_PATH = "/services/oauth2/token"  # noqa: S105 - a URL path, not a secret
JWT_GRANT = "urn:ietf:params:oauth:grant-type:jwt-bearer"
# The sandbox's documented Connected App; used only when sandbox mode has no id/secret set.
SANDBOX_CLIENT_ID = "sandbox-client"
SANDBOX_CLIENT_SECRET = "sandbox-secret"  # noqa: S105 - the local emulator's public default


@dataclass(frozen=True)
class AccessToken:
    access_token: str = field(repr=False)
    instance_url: str
    identity_url: str | None = None
    issued_at: str | None = None

    @property
    def org_id(self) -> str | None:
        return _identity_part(self.identity_url, 0)

    @property
    def user_id(self) -> str | None:
        """The integration user: skip changes it made, or the bridge re-reads its own writes."""
        return _identity_part(self.identity_url, 1)


def _identity_part(url: str | None, index: int) -> str | None:
    # The token response's `id` is https://login.salesforce.com/id/{orgId}/{userId}.
    if not url:
        return None
    parts = [p for p in urlparse(url).path.split("/") if p]
    if len(parts) >= 3 and parts[-3] == "id":
        return parts[-2:][index]
    return None


class TokenSource(Protocol):
    """One way of signing in. `fetch` does a single token request."""

    mode: str

    def fetch(self, session: requests.Session) -> AccessToken: ...


def _base(url: str) -> str:
    url = url.strip().rstrip("/")
    if not url.startswith("https://"):
        # simple-salesforce talks https:// only; an http:// URL would silently change scheme.
        raise ValueError(f"Salesforce URLs must be https://, got {url!r}")
    return url


def post_token_request(
    session: requests.Session, token_url: str, form: dict[str, str], mode: str
) -> AccessToken:
    """POST an OAuth token request and read the documented response fields."""
    try:
        response = session.post(token_url, data=form, headers={"Accept": "application/json"})
    except requests.RequestException as exc:
        raise TransientError(
            f"token endpoint unreachable: {type(exc).__name__}", operation="auth"
        ) from exc
    try:
        body: Any = response.json()
    except ValueError:
        body = {}
    if not isinstance(body, dict):
        body = {}
    if response.status_code != 200 or "access_token" not in body:
        code = body.get("error") or f"HTTP_{response.status_code}"
        message = f"{mode} sign-in refused: {body.get('error_description') or code}"
        if response.status_code >= 500:
            raise error_for(response.status_code, str(code), message, operation="auth")
        raise AuthenticationFailed(
            message, error_code=str(code), status=response.status_code, operation="auth"
        )
    instance_url = body.get("instance_url")
    if not instance_url:
        raise AuthenticationFailed(f"{mode} token response has no instance_url", operation="auth")
    return AccessToken(
        access_token=str(body["access_token"]),
        instance_url=_base(str(instance_url)),
        identity_url=body.get("id"),
        issued_at=body.get("issued_at"),
    )


class ClientCredentials:
    """OAuth client credentials: the Connected App runs as its configured "Run As" user."""

    mode = "client_credentials"

    def __init__(self, token_host: str, client_id: str, client_secret: str) -> None:
        if not client_id or not client_secret:
            raise ValueError("client credentials need a consumer key and secret")
        self.token_url = _base(token_host) + TOKEN_PATH
        self.client_id = client_id
        self._client_secret = client_secret

    def fetch(self, session: requests.Session) -> AccessToken:
        return post_token_request(
            session,
            self.token_url,
            {
                "grant_type": "client_credentials",
                "client_id": self.client_id,
                "client_secret": self._client_secret,
            },
            self.mode,
        )


class JwtBearer:
    """OAuth 2.0 JWT bearer: a short-lived RS256 assertion signed with the app's private key."""

    mode = "jwt"

    def __init__(
        self,
        login_url: str,
        client_id: str,
        username: str,
        private_key: str,
        *,
        audience: str | None = None,
        lifetime_seconds: int = 180,
    ) -> None:
        if not client_id or not username or not private_key:
            raise ValueError("JWT bearer needs a consumer key, a username and a private key")
        self.login_url = _base(login_url)
        self.token_url = self.login_url + TOKEN_PATH
        # Salesforce expects the login host (login/test.salesforce.com) as audience.
        self.audience = audience or self.login_url
        self.client_id = client_id
        self.username = username
        self._private_key = private_key
        self.lifetime_seconds = lifetime_seconds

    def assertion(self, now: float | None = None) -> str:
        issued = int(now if now is not None else time.time())
        claims = {
            "iss": self.client_id,
            "sub": self.username,
            "aud": self.audience,
            "exp": issued + self.lifetime_seconds,
        }
        return jwt.encode(claims, self._private_key, algorithm="RS256")

    def fetch(self, session: requests.Session) -> AccessToken:
        return post_token_request(
            session,
            self.token_url,
            {"grant_type": JWT_GRANT, "assertion": self.assertion()},
            self.mode,
        )


class PasswordGrant:
    """OAuth username-password flow; the password is followed by the user's security token."""

    mode = "password"

    def __init__(
        self,
        login_url: str,
        client_id: str,
        client_secret: str,
        username: str,
        password: str,
        security_token: str = "",
    ) -> None:
        if not client_id or not username or not password:
            raise ValueError("the password flow needs a consumer key, a username and a password")
        self.token_url = _base(login_url) + TOKEN_PATH
        self.client_id = client_id
        self._client_secret = client_secret
        self.username = username
        self._password = password + security_token

    def fetch(self, session: requests.Session) -> AccessToken:
        form = {
            "grant_type": "password",
            "client_id": self.client_id,
            "username": self.username,
            "password": self._password,
        }
        if self._client_secret:
            form["client_secret"] = self._client_secret
        return post_token_request(session, self.token_url, form, self.mode)


class SoapPasswordLogin:
    """Username + password + security token without a Connected App (SOAP `login()`).

    Kept for orgs that cannot create a Connected App; Salesforce is retiring SOAP login, so
    prefer JWT bearer. Uses simple-salesforce's own SOAP login against the login host.
    """

    mode = "password"

    def __init__(
        self, login_url: str, username: str, password: str, security_token: str, version: str
    ) -> None:
        host = urlparse(_base(login_url)).hostname or ""
        if not host.endswith(".salesforce.com"):
            raise ValueError(f"SOAP login needs a *.salesforce.com login URL, got {login_url!r}")
        self.domain = host.removesuffix(".salesforce.com")
        self.username = username
        self._password = password
        self._security_token = security_token
        self.version = version

    def fetch(self, session: requests.Session) -> AccessToken:
        try:
            session_id, instance = SalesforceLogin(
                username=self.username,
                password=self._password,
                security_token=self._security_token,
                domain=self.domain,
                sf_version=self.version,
                session=session,
            )
        except SalesforceAuthenticationFailed as exc:
            raise AuthenticationFailed(
                f"SOAP login refused: {exc.code}", error_code=str(exc.code), operation="auth"
            ) from exc
        return AccessToken(access_token=session_id, instance_url=f"https://{instance}")


def token_source_from_settings(settings: Settings) -> TokenSource:
    """Pick the sign-in flow `settings.sf_auth` names, with its settings checked."""
    mode = settings.sf_auth
    secret = settings.sf_client_secret.get_secret_value()
    if mode in ("sandbox", "none"):
        # 'none' means "no real org": `bridge up` starts the sandbox and hands us its URL.
        if not settings.sf_instance_url:
            raise ValueError("sandbox mode needs sf_instance_url (the running sandbox's URL)")
        return ClientCredentials(
            settings.sf_instance_url,
            settings.sf_client_id or SANDBOX_CLIENT_ID,
            secret or SANDBOX_CLIENT_SECRET,
        )
    if mode == "client_credentials":
        # Client credentials must go to the org's My Domain, never login.salesforce.com.
        if settings.sf_domain:
            host = f"https://{settings.sf_domain}.salesforce.com"
        elif settings.sf_instance_url:
            host = settings.sf_instance_url
        else:
            raise ValueError("client credentials need sf_domain (My Domain) or sf_instance_url")
        return ClientCredentials(host, settings.sf_client_id, secret)
    if mode == "jwt":
        if settings.sf_private_key_file is None:
            raise ValueError("JWT bearer needs sf_private_key_file")
        key = Path(settings.sf_private_key_file).read_text(encoding="utf-8")
        return JwtBearer(settings.sf_login_url, settings.sf_client_id, settings.sf_username, key)
    if mode == "password":
        password = settings.sf_password.get_secret_value()
        security_token = settings.sf_security_token.get_secret_value()
        if settings.sf_client_id:
            return PasswordGrant(
                settings.sf_login_url,
                settings.sf_client_id,
                secret,
                settings.sf_username,
                password,
                security_token,
            )
        return SoapPasswordLogin(
            settings.sf_login_url,
            settings.sf_username,
            password,
            security_token,
            settings.sf_api_version,
        )
    raise ValueError(f"unknown sf_auth mode: {mode!r}")
