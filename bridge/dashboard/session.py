"""The dashboard sign-in, sealed in a cookie.

The cookie holds the API key the operator signed in with, encrypted and authenticated with
Fernet (AES-128-CBC + HMAC-SHA256, from `cryptography`) under a key derived from the bridge's
secret key, plus a CSRF token and the sign-in time. Every page load re-verifies the key, so a
revoked key ends the session within the verifier's cache time. Fernet's timestamp bounds the
session's age; nothing is kept server-side.
"""

from __future__ import annotations

import base64
import json
import secrets
from dataclasses import dataclass

from cryptography.fernet import Fernet, InvalidToken
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

COOKIE = "bridge_dashboard"
CSRF_COOKIE = "bridge_dashboard_csrf"


@dataclass(frozen=True, slots=True)
class DashboardSession:
    api_key: str
    csrf: str


def new_csrf_token() -> str:
    return secrets.token_urlsafe(32)


class SessionCodec:
    def __init__(self, secret: bytes, max_age_seconds: int) -> None:
        derived = HKDF(
            algorithm=hashes.SHA256(), length=32, salt=None, info=b"bridge dashboard session"
        ).derive(secret)
        self._fernet = Fernet(base64.urlsafe_b64encode(derived))
        self.max_age_seconds = max_age_seconds

    def seal(self, session: DashboardSession) -> str:
        payload = json.dumps({"k": session.api_key, "c": session.csrf}).encode()
        return self._fernet.encrypt(payload).decode()

    def open(self, token: str | None) -> DashboardSession | None:
        if not token:
            return None
        try:
            data = json.loads(self._fernet.decrypt(token.encode(), ttl=self.max_age_seconds))
            return DashboardSession(api_key=str(data["k"]), csrf=str(data["c"]))
        except (InvalidToken, ValueError, KeyError, TypeError):
            return None
