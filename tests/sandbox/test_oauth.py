"""OAuth token endpoint: client credentials, password, JWT bearer; expiry and errors."""

from __future__ import annotations

import base64
import hashlib
import hmac
import time

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from simple_salesforce.exceptions import SalesforceExpiredSession

from sandbox.auth import JWT_GRANT
from sandbox.testing import SandboxProcess

TOKEN_FIELDS = {"access_token", "instance_url", "id", "token_type", "issued_at", "signature"}


def _post(sandbox: SandboxProcess, **form: str) -> tuple[int, dict[str, str]]:
    response = sandbox.session().post(f"{sandbox.instance_url}/services/oauth2/token", data=form)
    return response.status_code, response.json()


def test_client_credentials_response_fields(sandbox: SandboxProcess) -> None:
    body = sandbox.token_response()
    assert set(body) >= TOKEN_FIELDS
    assert body["instance_url"] == sandbox.instance_url and body["token_type"] == "Bearer"
    assert body["id"] == f"{sandbox.instance_url}/id/{sandbox.org_id}/{sandbox.integration_user_id}"
    assert body["access_token"].startswith(sandbox.org_id + "!")
    assert body["issued_at"].isdigit() and abs(int(body["issued_at"]) / 1000 - time.time()) < 60
    expected = base64.b64encode(hmac.new(sandbox.client_secret.encode(),
                                         (body["id"] + body["issued_at"]).encode(),
                                         hashlib.sha256).digest()).decode()  # fmt: skip
    assert body["signature"] == expected


def test_basic_auth_client_credentials(sandbox: SandboxProcess) -> None:
    response = sandbox.session().post(
        f"{sandbox.instance_url}/services/oauth2/token", data={"grant_type": "client_credentials"},
        auth=(sandbox.client_id, sandbox.client_secret),
    )  # fmt: skip
    assert response.status_code == 200 and response.json()["access_token"]


@pytest.mark.parametrize(
    ("form", "error"),
    [
        ({"grant_type": "client_credentials", "client_id": "nope", "client_secret": "x"},
         "invalid_client_id"),
        ({"grant_type": "client_credentials", "client_id": "sandbox-client",
          "client_secret": "wrong"}, "invalid_client"),
        ({"grant_type": "password", "client_id": "sandbox-client",
          "client_secret": "sandbox-secret", "username": "integration@sandbox.bridge.local",
          "password": "wrong"}, "invalid_grant"),
        ({"grant_type": "authorization_code"}, "unsupported_grant_type"),
        ({"grant_type": JWT_GRANT, "assertion": "not.a.jwt"}, "invalid_grant"),
    ],
)  # fmt: skip
def test_oauth_errors(sandbox: SandboxProcess, form: dict[str, str], error: str) -> None:
    status, body = _post(sandbox, **form)
    assert status == 400 and body["error"] == error and body["error_description"]


def test_password_grant_runs_as_that_user(sandbox: SandboxProcess) -> None:
    username = "pw.user@sandbox.bridge.local"
    user_id = sandbox.create("User", {"Username": username, "LastName": "Pw", "Email": "p@x.io"})
    status, body = _post(sandbox, grant_type="password", client_id=sandbox.client_id,
                         client_secret=sandbox.client_secret, username=username,
                         password="sandbox-passwordSANDBOXTOKEN")  # fmt: skip
    assert status == 200 and body["id"].endswith(user_id)
    sandbox.update("User", user_id, {"IsActive": False})
    status, body = _post(sandbox, grant_type="password", client_id=sandbox.client_id,
                         client_secret=sandbox.client_secret, username=username,
                         password="sandbox-password")  # fmt: skip
    assert status == 400 and body["error"] == "invalid_grant"


def test_jwt_bearer(sandbox: SandboxProcess) -> None:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    public_pem = (
        key.public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode()
    )
    claims = {"iss": sandbox.client_id, "sub": sandbox.username,
              "aud": "https://login.salesforce.com", "exp": int(time.time()) + 180}  # fmt: skip
    assertion = jwt.encode(claims, key, algorithm="RS256")
    status, body = _post(sandbox, grant_type=JWT_GRANT, assertion=assertion)
    assert status == 400 and body["error"] == "invalid_grant"  # key not registered yet
    sandbox.register_jwt_key(public_pem)
    status, body = _post(sandbox, grant_type=JWT_GRANT, assertion=assertion)
    assert status == 200 and set(body) >= TOKEN_FIELDS
    assert sandbox.salesforce(body["access_token"]).query("SELECT Id FROM User LIMIT 1")
    expired = jwt.encode({**claims, "exp": int(time.time()) - 10}, key, algorithm="RS256")
    status, body = _post(sandbox, grant_type=JWT_GRANT, assertion=expired)
    assert status == 400 and body["error"] == "invalid_grant"
    wrong_sub = jwt.encode({**claims, "sub": "nobody@x"}, key, algorithm="RS256")
    assert _post(sandbox, grant_type=JWT_GRANT, assertion=wrong_sub)[0] == 400


def test_token_lifetime_expiry(sandbox: SandboxProcess) -> None:
    sandbox.set_token_lifetime(1)
    try:
        token = sandbox.token()
    finally:
        sandbox.set_token_lifetime(7200)
    sf = sandbox.salesforce(token)
    assert sf.query("SELECT COUNT() FROM Lead")["done"] is True
    time.sleep(1.2)
    response = sandbox.session().get(f"{sandbox.instance_url}/services/data/v60.0/limits",
                                     headers={"Authorization": f"Bearer {token}"})  # fmt: skip
    assert response.status_code == 401
    assert response.json() == [{"message": "Session expired or invalid",
                                "errorCode": "INVALID_SESSION_ID", "fields": []}]  # fmt: skip
    with pytest.raises(SalesforceExpiredSession):
        sf.query("SELECT COUNT() FROM Lead")


def test_expire_one_token_by_control(sandbox: SandboxProcess) -> None:
    token = sandbox.token()
    other = sandbox.token()
    assert sandbox.expire_tokens(token) == 1
    with pytest.raises(SalesforceExpiredSession):
        sandbox.salesforce(token).limits()
    assert sandbox.salesforce(other).limits()


def test_missing_token_is_401(sandbox: SandboxProcess) -> None:
    response = sandbox.session().get(f"{sandbox.instance_url}/services/data/v60.0/sobjects")
    assert response.status_code == 401
    assert response.json()[0]["errorCode"] == "INVALID_SESSION_ID"
