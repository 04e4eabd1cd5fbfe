"""Salesforce OAuth 2.0 JWT bearer flow: a connected app signs a short assertion for its integration user.

The connected app has "Use digital signatures" with the certificate of a key pair; the private key (PEM)
is the credential. A token request posts ``grant_type=urn:ietf:params:oauth:grant-type:jwt-bearer`` and an
RS256 JWT (``iss`` = the consumer key, ``sub`` = the integration user's username, ``aud`` =
``https://login.salesforce.com``, or ``https://test.salesforce.com`` for a sandbox, three minutes' life)
to ``{My Domain}/services/oauth2/token`` and receives ``access_token`` and ``instance_url``. The answer
has no lifetime (sessions follow the org's timeout), so the token is kept until an API call answers 401
``INVALID_SESSION_ID``; the HTTP client then asks for a new one, once.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from nhiwatch.errors import ConfigError
from nhiwatch.sources.collect.errors import AuthError, CollectError
from nhiwatch.sources.collect.http import HttpClient
from nhiwatch.sources.collect.secrets import Secret, scrub

TOKEN_PATH = "services/oauth2/token"
GRANT = "urn:ietf:params:oauth:grant-type:jwt-bearer"
ASSERTION_LIFE = 180  # seconds; Salesforce refuses assertions that live longer than a few minutes


class JwtBearerTokens:
    def __init__(
        self,
        consumer_key: str,
        username: str,
        audience: str,
        key: Secret,
        *,
        clock: Callable[[], float] = time.time,
    ) -> None:
        try:
            import jwt
        except ImportError:
            raise ConfigError(
                "the Salesforce collector needs PyJWT: pip install 'nhiwatch[collect]'"
            ) from None
        self._jwt = jwt
        self._consumer_key = consumer_key
        self._username = username
        self._audience = audience
        self._key = key
        self._clock = clock
        self._token: str | None = None
        self.instance_url: str | None = None
        self.requests = 0
        self.http: HttpClient | None = None  # set once the collector's client exists

    def __call__(self, refresh: bool) -> str:
        if refresh or self._token is None:
            self._token = self._request()
        return self._token

    def _request(self) -> str:
        assert self.http is not None, "JwtBearerTokens.http is set by build()"
        now = int(self._clock())
        claims = {
            "iss": self._consumer_key,
            "sub": self._username,
            "aud": self._audience,
            "exp": now + ASSERTION_LIFE,
        }
        try:
            assertion = self._jwt.encode(claims, self._key.reveal(), algorithm="RS256")
        except Exception as exc:  # not a PEM RSA private key
            raise ConfigError(
                scrub(f"{self._key.name}: cannot sign with it ({type(exc).__name__})", [self._key])
            ) from None
        self.requests += 1
        try:
            reply = self.http.request(
                "POST", TOKEN_PATH, data={"grant_type": GRANT, "assertion": assertion}, authorize=False
            )
            body: Any = reply.json()
        except CollectError as exc:
            raise AuthError(
                f"Salesforce refused the JWT bearer token request: {scrub(str(exc), [assertion])}"
            ) from None
        token = body.get("access_token") if isinstance(body, dict) else None
        if not isinstance(token, str) or not token:
            raise AuthError("Salesforce's token answer has no access_token")
        instance = body.get("instance_url")
        self.instance_url = instance if isinstance(instance, str) else None
        return token
