"""Every sign-in mode: chosen from settings (no I/O), then used against the sandbox."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from bridge.salesforce import (
    AccessToken,
    AuthenticationFailed,
    ClientCredentials,
    JwtBearer,
    PasswordGrant,
    SoapPasswordLogin,
    token_source_from_settings,
)
from config.settings import Settings

from .conftest import make_gateway, sandbox_settings

SANDBOX_PASSWORD = "sandbox-password"
SANDBOX_SECURITY_TOKEN = "SANDBOXTOKEN"


@pytest.fixture(scope="module")
def key_pair(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    path = tmp_path_factory.mktemp("jwt") / "bridge.key"
    path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    public = key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return path, public.decode()


def _settings(**values: Any) -> Settings:
    return Settings(_env_file=None, **values)


# -- choosing the flow (no I/O) ---------------------------------------------------------------
def test_client_credentials_go_to_my_domain() -> None:
    source = token_source_from_settings(
        _settings(
            sf_auth="client_credentials",
            sf_domain="acme.my",
            sf_client_id="k",
            sf_client_secret="s",
        )
    )
    assert isinstance(source, ClientCredentials)
    assert source.token_url == "https://acme.my.salesforce.com/services/oauth2/token"


def test_sandbox_mode_uses_the_sandbox_token_endpoint_and_defaults() -> None:
    for mode in ("sandbox", "none"):
        source = token_source_from_settings(
            _settings(sf_auth=mode, sf_instance_url="https://127.0.0.1:8443/")
        )
        assert isinstance(source, ClientCredentials)
        assert source.token_url == "https://127.0.0.1:8443/services/oauth2/token"
        assert source.client_id == "sandbox-client"
    with pytest.raises(ValueError):
        token_source_from_settings(_settings(sf_auth="none"))


def test_password_mode_prefers_oauth_and_falls_back_to_soap_login() -> None:
    common = {"sf_auth": "password", "sf_username": "u@x.com", "sf_password": "p"}
    assert isinstance(
        token_source_from_settings(_settings(**common, sf_client_id="k")), PasswordGrant
    )
    soap = token_source_from_settings(
        _settings(**common, sf_login_url="https://test.salesforce.com")
    )
    assert isinstance(soap, SoapPasswordLogin) and soap.domain == "test"


def test_jwt_assertion_claims(key_pair: tuple[Path, str]) -> None:
    path, public = key_pair
    source = token_source_from_settings(
        _settings(
            sf_auth="jwt", sf_client_id="key", sf_username="u@x.com", sf_private_key_file=path
        )
    )
    assert isinstance(source, JwtBearer)
    assert source.token_url == "https://login.salesforce.com/services/oauth2/token"
    claims = jwt.decode(
        source.assertion(now=1_700_000_000),
        public,
        algorithms=["RS256"],
        audience="https://login.salesforce.com",
        options={"verify_exp": False},
    )
    assert claims == {
        "iss": "key",
        "sub": "u@x.com",
        "aud": "https://login.salesforce.com",
        "exp": 1_700_000_180,
    }


def test_misconfiguration_is_refused_early() -> None:
    with pytest.raises(ValueError):
        token_source_from_settings(_settings(sf_auth="client_credentials", sf_client_id="k"))
    with pytest.raises(ValueError):
        token_source_from_settings(_settings(sf_auth="jwt", sf_client_id="k", sf_username="u"))
    with pytest.raises(ValueError, match="https"):
        ClientCredentials("http://insecure.example.com", "k", "s")


def test_tokens_never_show_in_reprs() -> None:
    token = AccessToken("00Dxx!SECRET", "https://x.example.com", "https://x/id/00D/005")
    assert "SECRET" not in repr(token)
    assert (token.org_id, token.user_id) == ("00D", "005")
    grant = PasswordGrant("https://login.salesforce.com", "k", "s3cret", "u", "pw", "tok")
    assert "s3cret" not in repr(grant) and "pwtok" not in repr(grant)


# -- against the sandbox ----------------------------------------------------------------------
def test_sandbox_client_credentials(sandbox: Any) -> None:
    gateway = make_gateway(
        sandbox, settings=sandbox_settings(sandbox, sf_auth="client_credentials")
    )
    assert gateway.integration_user_id == sandbox.integration_user_id
    assert gateway.query("SELECT Id FROM User")["totalSize"] >= 1


def test_password_flow(sandbox: Any) -> None:
    settings = sandbox_settings(
        sandbox,
        sf_auth="password",
        sf_login_url=sandbox.instance_url,
        sf_username=sandbox.username,
        sf_password=SANDBOX_PASSWORD,
        sf_security_token=SANDBOX_SECURITY_TOKEN,
    )
    gateway = make_gateway(sandbox, settings=settings)
    assert gateway.integration_user_id == sandbox.integration_user_id
    assert gateway.query("SELECT Id FROM User")["totalSize"] >= 1

    wrong = settings.model_copy(update={"sf_password": settings.sf_password.__class__("nope")})
    with pytest.raises(AuthenticationFailed) as refused:
        make_gateway(sandbox, settings=wrong).query("SELECT Id FROM User")
    assert refused.value.error_code == "invalid_grant"


def test_jwt_bearer_flow(sandbox: Any, key_pair: tuple[Path, str]) -> None:
    path, public = key_pair
    sandbox.register_jwt_key(public)
    settings = sandbox_settings(
        sandbox,
        sf_auth="jwt",
        sf_login_url=sandbox.instance_url,
        sf_username=sandbox.username,
        sf_private_key_file=path,
    )
    gateway = make_gateway(sandbox, settings=settings)
    assert gateway.integration_user_id == sandbox.integration_user_id
    assert gateway.query("SELECT Id FROM User")["totalSize"] >= 1
    # JWT gets a fresh token on expiry like every other mode.
    sandbox.expire_tokens()
    assert gateway.query("SELECT Id FROM User")["totalSize"] >= 1
    assert gateway.usage.auth_requests == 2


def test_bad_client_secret_is_an_authentication_failure(sandbox: Any) -> None:
    gateway = make_gateway(sandbox, settings=sandbox_settings(sandbox, sf_client_secret="wrong"))
    with pytest.raises(AuthenticationFailed):
        gateway.limits()
    assert gateway.calls_by_operation == {}
