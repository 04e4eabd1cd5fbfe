"""Okta OAuth 2.0 service app: client credentials with a signed JWT (``private_key_jwt``), scope
``okta.logs.read``.

The service app's public key is registered in Okta; its private key (PEM) is the credential. A token
request posts a JWT signed with it (``iss`` = ``sub`` = the client id, ``aud`` = the token URL, five
minutes' life) to ``{org}/oauth2/v1/token`` and receives a Bearer access token, reused until a minute
before it expires (or a 401 asks for a new one). The app must not require DPoP proofs (nhiwatch does not
send them yet): leave "Require Demonstrating Proof of Possession (DPoP) header in token requests" off.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable
from typing import Any

from nhiwatch.errors import ConfigError
from nhiwatch.sources.collect.errors import AuthError, CollectError
from nhiwatch.sources.collect.http import HttpClient
from nhiwatch.sources.collect.secrets import Secret, scrub

SCOPE = "okta.logs.read"
TOKEN_PATH = "oauth2/v1/token"
ASSERTION_TYPE = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"


class ServiceAppTokens:
    def __init__(
        self,
        client_id: str,
        key: Secret,
        *,
        key_id: str | None = None,
        clock: Callable[[], float] = time.time,
        scope: str = SCOPE,
    ) -> None:
        try:
            import jwt
        except ImportError:
            raise ConfigError("an Okta service app needs PyJWT: pip install 'nhiwatch[collect]'") from None
        self._jwt = jwt
        self._client_id = client_id
        self._key = key
        self._key_id = key_id
        self._clock = clock
        self._scope = scope
        self._token: str | None = None
        self._expires = 0.0
        self.http: HttpClient | None = None  # set once the collector's client exists

    def __call__(self, refresh: bool) -> str:
        if refresh or self._token is None or self._clock() > self._expires - 60:
            self._token, self._expires = self._request()
        return self._token

    def _request(self) -> tuple[str, float]:
        assert self.http is not None, "ServiceAppTokens.http is set by build()"
        token_url = self.http.url(TOKEN_PATH)
        now = int(self._clock())
        claims = {
            "iss": self._client_id,
            "sub": self._client_id,
            "aud": token_url,
            "iat": now,
            "exp": now + 300,
            "jti": uuid.uuid4().hex,
        }
        headers = {"kid": self._key_id} if self._key_id else None
        try:
            assertion = self._jwt.encode(claims, self._key.reveal(), algorithm="RS256", headers=headers)
        except Exception as exc:  # not a PEM RSA private key
            raise ConfigError(
                scrub(f"{self._key.name}: cannot sign with it ({type(exc).__name__})", [self._key])
            ) from None
        form = {
            "grant_type": "client_credentials",
            "scope": self._scope,
            "client_assertion_type": ASSERTION_TYPE,
            "client_assertion": assertion,
        }
        try:
            reply = self.http.request("POST", TOKEN_PATH, data=form, authorize=False)
            body: Any = reply.json()
        except CollectError as exc:
            raise AuthError(f"Okta refused the service app's token request: {exc}") from None
        token = body.get("access_token") if isinstance(body, dict) else None
        if not isinstance(token, str) or not token:
            raise AuthError("Okta's token answer has no access_token")
        lifetime = body.get("expires_in", 3600)
        seconds = float(lifetime) if isinstance(lifetime, int | float) and 60 <= lifetime <= 86400 else 3600.0
        return token, self._clock() + seconds
