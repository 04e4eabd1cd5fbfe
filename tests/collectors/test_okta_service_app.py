"""Okta through an OAuth service app: a private_key_jwt client-credentials grant for okta.logs.read,
the token reused until it nears expiry or a 401 asks for a new one, and refusals without key material."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from pytest_httpserver import HTTPServer
from werkzeug import Request, Response

from nhiwatch.store import Store
from tests.collectors.conftest import Clock, collect, ids, serve
from tests.collectors.fakes import NOW, FakeOkta, okta_events, reply

CLIENT_ID = "0oa1serviceapp2abc3d4"


class FakeOktaOAuth(FakeOkta):
    public_pem: bytes = b""
    issued = 0
    refuse = False
    assertions: list[dict[str, Any]] = []

    def __call__(self, request: Request) -> Response:
        if request.path == "/oauth2/v1/token":
            self.requests.append(request)
            form = request.form
            assert form["grant_type"] == "client_credentials" and form["scope"] == "okta.logs.read"
            assert form["client_assertion_type"] == "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
            claims = jwt.decode(
                form["client_assertion"],
                self.public_pem,
                algorithms=["RS256"],
                audience=f"{self.base}/oauth2/v1/token",
                options={"verify_exp": False, "verify_iat": False},  # signed at the tests' fixed clock
            )
            self.assertions.append(
                {**claims, "kid": jwt.get_unverified_header(form["client_assertion"]).get("kid")}
            )
            if self.refuse:
                return reply(
                    401,
                    {
                        "error": "invalid_client",
                        "error_description": "The client_assertion signature is invalid.",
                    },
                )
            self.issued += 1
            self.token = f"eyJraWQi.access-{self.issued}"
            return reply(
                200,
                {
                    "token_type": "Bearer",
                    "expires_in": 3600,
                    "access_token": self.token,
                    "scope": "okta.logs.read",
                },
            )
        return super().__call__(request)

    def authorized(self, request: Request) -> bool:
        return request.headers.get("Authorization") == f"Bearer {self.token}"


def _app(httpserver: HTTPServer, tmp_path: Path) -> tuple[FakeOktaOAuth, dict[str, str], dict[str, str], str]:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    fake = FakeOktaOAuth(token="none-yet", events=okta_events(150))
    fake.assertions = []
    fake.public_pem = key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    url = serve(httpserver, fake)
    key_file = tmp_path / "okta.pem"
    key_file.write_bytes(pem)
    env = {"NHIWATCH_OKTA_PRIVATE_KEY_FILE": str(key_file)}
    cfg = {"base_url": url, "client_id": CLIENT_ID, "key_id": "kid-1", "limit": "100"}
    return fake, env, cfg, pem.decode()


def test_service_app_token_is_requested_once_and_used_for_every_page(
    httpserver: HTTPServer, tmp_path: Path, store: Store, clock: Clock
) -> None:
    fake, env, cfg, _ = _app(httpserver, tmp_path)
    report = collect(store, "okta", cfg, env, clock, since=NOW - timedelta(days=1))
    assert report.ok, report
    assert len(set(ids(store, "okta"))) == 150
    assert fake.issued == 1
    a = fake.assertions[0]
    assert (a["iss"], a["sub"], a["kid"]) == (CLIENT_ID, CLIENT_ID, "kid-1") and a["exp"] - a["iat"] == 300


def test_a_401_gets_a_new_token_once(
    httpserver: HTTPServer, tmp_path: Path, store: Store, clock: Clock
) -> None:
    fake, env, cfg, _ = _app(httpserver, tmp_path)
    fake.script[3] = reply(401, {"errorCode": "E0000011", "errorSummary": "Invalid token provided"})  # page 2
    report = collect(store, "okta", cfg, env, clock, since=NOW - timedelta(days=1))
    assert report.ok and fake.issued == 2
    assert len(set(ids(store, "okta"))) == 150


def test_a_refused_assertion_is_a_clear_error_without_the_key(
    httpserver: HTTPServer, tmp_path: Path, store: Store, clock: Clock
) -> None:
    fake, env, cfg, pem = _app(httpserver, tmp_path)
    fake.refuse = True
    report = collect(store, "okta", cfg, env, clock, since=NOW - timedelta(days=1))
    error = report.streams[0].error or ""
    assert "Okta refused the service app's token request" in error and "invalid_client" in error
    assert pem.splitlines()[1] not in error + str(store.fetchall("SELECT * FROM collector_state"))


def test_one_okta_credential_at_a_time(tmp_path: Path) -> None:
    from nhiwatch.errors import ConfigError
    from nhiwatch.sources.collect.registry import build

    env = {"NHIWATCH_OKTA_API_TOKEN": "00abc", "NHIWATCH_OKTA_PRIVATE_KEY": "-----BEGIN PRIVATE KEY-----"}
    with pytest.raises(
        ConfigError, match="several are set: NHIWATCH_OKTA_PRIVATE_KEY, NHIWATCH_OKTA_API_TOKEN"
    ):
        build("okta", {"base_url": "https://acme.okta.com"}, env=env)
    with pytest.raises(ConfigError, match="needs the setting client_id"):
        build("okta", {"base_url": "https://acme.okta.com"}, env={"NHIWATCH_OKTA_PRIVATE_KEY": "x"})
