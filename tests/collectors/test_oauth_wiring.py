"""The OAuth vendors' token libraries wired for real: google-auth signs a domain-wide-delegation JWT and
trades it at the key's token endpoint; msal runs the client-credentials flow against a fake Entra ID.
Refusals become clear errors with no key material in them."""

from __future__ import annotations

import base64
import json
from pathlib import Path
from typing import Any

import httpx
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from pytest_httpserver import HTTPServer
from werkzeug import Request, Response

from nhiwatch.errors import NhiwatchError
from nhiwatch.sources.collect import runner
from nhiwatch.sources.collect.errors import AuthError
from nhiwatch.sources.collect.registry import build, settings
from nhiwatch.sources.collect.secrets import Secret
from nhiwatch.sources.microsoft.collector import MsalTokens
from nhiwatch.store import Store
from tests.collectors.conftest import Clock, ids, options
from tests.collectors.fakes import NOW, FakeGoogle, FakeGraph, graph_signins, gws_activities, reply

pytest.importorskip("google.oauth2.service_account")
pytest.importorskip("msal")


def _private_key() -> str:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()


def _claims(assertion: str) -> dict[str, Any]:
    payload = assertion.split(".")[1]
    return json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))


class GoogleWithTokens(FakeGoogle):
    """The Reports fake plus the OAuth token endpoint a service-account key names."""

    refuse = False
    grants: list[dict[str, Any]] = []

    def __call__(self, request: Request) -> Response:
        if request.path == "/token":
            form = request.form
            assert form["grant_type"] == "urn:ietf:params:oauth:grant-type:jwt-bearer"
            self.grants.append(_claims(form["assertion"]))
            if self.refuse:
                return reply(
                    400, {"error": "unauthorized_client", "error_description": "Client is unauthorized"}
                )
            return reply(200, {"access_token": self.token, "expires_in": 3600, "token_type": "Bearer"})
        return super().__call__(request)


def _google(
    httpserver: HTTPServer, tmp_path: Path
) -> tuple[GoogleWithTokens, dict[str, str], dict[str, str], str]:
    import re

    fake = GoogleWithTokens(token="ya29.fake-access-token-0123456789", activities=gws_activities(120))
    fake.grants = []
    url = httpserver.url_for("").rstrip("/")
    fake.base = url
    httpserver.expect_request(re.compile(".*")).respond_with_handler(fake)
    pem = _private_key()
    key = {
        "type": "service_account",
        "project_id": "acme-audit",
        "private_key_id": "0123456789abcdef0123456789abcdef01234567",
        "private_key": pem,
        "client_email": "nhiwatch@acme-audit.iam.gserviceaccount.com",
        "client_id": "1234567890",
        "token_uri": f"{url}/token",
    }
    key_file = tmp_path / "key.json"
    key_file.write_text(json.dumps(key))
    env = {"NHIWATCH_GWS_SERVICE_ACCOUNT_KEY_FILE": str(key_file)}
    cfg = {"base_url": url, "subject": "admin@acme.example", "applications": "token", "max_results": "50"}
    return fake, env, cfg, pem


def test_google_service_account_acts_as_the_admin_with_the_reports_scope(
    httpserver: HTTPServer, tmp_path: Path, store: Store, clock: Clock
) -> None:
    fake, env, cfg, _ = _google(httpserver, tmp_path)
    collector = build("gws", cfg, env=env, http=options(clock))
    try:
        report = runner.run(
            store, collector, since=NOW - __import__("datetime").timedelta(days=1), now=lambda: NOW
        )
    finally:
        collector.close()
    assert report.ok, report
    assert len(set(ids(store, "gws"))) == 120
    assert len(fake.grants) == 1  # one token for the whole run
    claims = fake.grants[0]
    assert claims["sub"] == "admin@acme.example"
    assert claims["scope"] == "https://www.googleapis.com/auth/admin.reports.audit.readonly"
    assert claims["iss"] == "nhiwatch@acme-audit.iam.gserviceaccount.com"
    assert all(a == f"Bearer {fake.token}" for a in fake.seen_auth[1:])


def test_google_refusing_the_delegation_is_a_clear_error_without_the_key(
    httpserver: HTTPServer, tmp_path: Path, store: Store, clock: Clock
) -> None:
    fake, env, cfg, pem = _google(httpserver, tmp_path)
    fake.refuse = True
    collector = build("gws", cfg, env=env, http=options(clock))
    try:
        report = runner.run(store, collector, now=lambda: NOW)
    finally:
        collector.close()
    error = report.streams[0].error or ""
    assert "Google refused the service account's token request" in error and "unauthorized_client" in error
    body = pem.splitlines()[1]
    assert body not in error and body not in str(store.fetchall("SELECT * FROM collector_state"))


def test_a_google_key_that_is_not_a_service_account_is_refused_by_name(tmp_path: Path) -> None:
    bad = tmp_path / "key.json"
    bad.write_text('{"type": "authorized_user", "refresh_token": "1//0secret"}')
    cfg = {"subject": "admin@acme.example"}
    with pytest.raises(
        NhiwatchError, match="NHIWATCH_GWS_SERVICE_ACCOUNT_KEY is not a service-account key"
    ) as err:
        build("gws", cfg, env={"NHIWATCH_GWS_SERVICE_ACCOUNT_KEY_FILE": str(bad)})
    assert "1//0secret" not in str(err.value)


class FakeEntra(FakeGraph):
    """Graph plus Entra ID's discovery document and v2.0 token endpoint."""

    token_requests: list[dict[str, str]] = []
    refuse = False

    def __call__(self, request: Request) -> Response:
        tenant = "acme.onmicrosoft.com"
        if request.path.endswith("/.well-known/openid-configuration"):
            root = f"https://login.microsoftonline.com/{tenant}"
            return reply(
                200,
                {
                    "token_endpoint": f"{root}/oauth2/v2.0/token",
                    "authorization_endpoint": f"{root}/oauth2/v2.0/authorize",
                    "issuer": f"{root}/v2.0",
                },
            )
        if request.path == "/common/discovery/instance":  # msal checks the authority after a refusal
            well_known = f"https://login.microsoftonline.com/{tenant}/v2.0/.well-known/openid-configuration"
            return reply(200, {"tenant_discovery_endpoint": well_known, "api-version": "1.1", "metadata": []})
        if request.path.endswith("/oauth2/v2.0/token"):
            self.token_requests.append(dict(request.form))
            if self.refuse:
                return reply(
                    401,
                    {
                        "error": "invalid_client",
                        "error_description": "AADSTS7000215: Invalid client secret provided. "
                        f"Ensure the secret being sent is the client secret value. Value: {request.form.get('client_secret')}",
                    },
                )
            return reply(200, {"access_token": self.token, "token_type": "Bearer", "expires_in": 3599})
        return super().__call__(request)


class Rewrite:
    """msal's http_client (requests-like), sending every request to the fake instead of the cloud."""

    def __init__(self, base: str) -> None:
        self.base = base
        self.client = httpx.Client()

    def _url(self, url: str) -> str:
        return self.base + "/" + url.split("://", 1)[1].split("/", 1)[1]

    def get(self, url: str, params: Any = None, headers: Any = None, **kw: Any) -> httpx.Response:
        return self.client.get(self._url(url), params=params, headers=headers)

    def post(
        self, url: str, params: Any = None, data: Any = None, headers: Any = None, **kw: Any
    ) -> httpx.Response:
        return self.client.post(self._url(url), params=params, data=data, headers=headers)

    def close(self) -> None:
        self.client.close()


@pytest.mark.parametrize("refuse", [False, True])
def test_msal_client_credentials_token_reaches_graph(
    httpserver: HTTPServer, store: Store, clock: Clock, refuse: bool
) -> None:
    import re

    from nhiwatch.sources.microsoft import collector as ms

    secret_value = "Q~8Q8~fake-client-secret-value-0123456789"
    fake = FakeEntra(token="eyJ0eXAiOiJKV1QifQ.graph-token.sig", signins=graph_signins(40))
    fake.token_requests = []
    fake.refuse = refuse
    url = httpserver.url_for("").rstrip("/")
    fake.base = url
    httpserver.expect_request(re.compile(".*")).respond_with_handler(fake)
    cfg = settings(
        "microsoft",
        {
            "base_url": url,
            "tenant_id": "acme.onmicrosoft.com",
            "client_id": "249ccaa9-e7ff-43ca-b818-b925e5a13d47",
            "streams": "signIns.servicePrincipal",
        },
        env={},
    )
    rewrite = Rewrite(url)
    try:
        tokens = MsalTokens(cfg, Secret(ms.SECRET_ENV, secret_value), http_client=rewrite)  # type: ignore[arg-type]
        collector = ms.build(cfg, env={}, http=options(clock), tokens=tokens)  # type: ignore[arg-type]
        collector.http.secrets.append(Secret(ms.SECRET_ENV, secret_value))
        try:
            report = runner.run(store, collector, now=lambda: NOW)
        finally:
            collector.close()
    finally:
        rewrite.close()
    assert fake.token_requests and fake.token_requests[0]["grant_type"] == "client_credentials"
    assert fake.token_requests[0]["scope"] == f"{url}/.default"
    if refuse:
        error = report.streams[0].error or ""
        assert "Entra ID refused the client credentials (invalid_client): AADSTS7000215" in error
        assert secret_value not in error
    else:
        assert report.ok, report
        assert len(ids(store, "microsoft")) == 40
        assert all(a == f"Bearer {fake.token}" for a in fake.seen_auth if a)


def test_msal_errors_never_carry_the_secret() -> None:
    from nhiwatch.sources.microsoft import collector as ms

    secret = Secret(ms.SECRET_ENV, "very-secret-client-value-1234")

    class Broken:
        removed = 0

        def acquire_token_for_client(self, scopes: list[str]) -> dict[str, str]:
            raise ValueError(f"bad credential very-secret-client-value-1234 for {scopes}")

        def remove_tokens_for_client(self) -> None:
            self.removed += 1

    cfg = settings(
        "microsoft",
        {"tenant_id": "acme.onmicrosoft.com", "client_id": "249ccaa9-e7ff-43ca-b818-b925e5a13d47"},
        env={},
    )
    app = Broken()
    tokens = MsalTokens(cfg, secret, app=app)  # type: ignore[arg-type]
    with pytest.raises(AuthError) as err:
        tokens(True)
    assert "very-secret" not in str(err.value) and app.removed == 1
