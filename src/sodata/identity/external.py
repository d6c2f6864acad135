"""Trusting an external Keycloak realm instead of the embedded provider: its JWKS is fetched
from the realm's discovery document and cached; an unknown kid refetches it (at most every
few seconds), so the realm's key rotations are followed."""

from __future__ import annotations

import threading
import time
from typing import Any

import httpx
import jwt
from jwt.algorithms import RSAAlgorithm

from sodata.identity.tokens import InvalidToken

MIN_REFETCH_SECONDS = 10


class ExternalIssuer:
    def __init__(self, issuer: str, cache_seconds: int) -> None:
        self.issuer = issuer.rstrip("/")
        self.cache_seconds = cache_seconds
        self._keys: dict[str, Any] = {}
        self._fetched_at = -1e9
        self._lock = threading.Lock()

    def _fetch(self) -> None:
        with httpx.Client(timeout=10) as http:
            config = http.get(f"{self.issuer}/.well-known/openid-configuration")
            config.raise_for_status()
            jwks = http.get(config.json()["jwks_uri"])
            jwks.raise_for_status()
        self._keys = {
            k["kid"]: RSAAlgorithm.from_jwk(k)
            for k in jwks.json().get("keys", [])
            if k.get("kty") == "RSA" and k.get("use", "sig") == "sig" and "kid" in k
        }
        self._fetched_at = time.monotonic()

    def _key(self, kid: str) -> Any:
        with self._lock:
            age = time.monotonic() - self._fetched_at
            if age > self.cache_seconds or (kid not in self._keys and age > MIN_REFETCH_SECONDS):
                try:
                    self._fetch()
                except (httpx.HTTPError, KeyError, ValueError) as exc:
                    if not self._keys:
                        raise InvalidToken(
                            f"the identity provider's keys are unavailable: {type(exc).__name__}"
                        ) from None
            key = self._keys.get(kid)
        if key is None:
            raise InvalidToken("token signed by an unknown key")
        return key

    def verify(self, token: str) -> dict[str, Any]:
        try:
            header = jwt.get_unverified_header(token)
        except jwt.PyJWTError:
            raise InvalidToken("malformed token") from None
        if header.get("alg") != "RS256":
            raise InvalidToken("unsupported signing algorithm")
        try:
            claims = jwt.decode(
                token,
                self._key(str(header.get("kid"))),
                algorithms=["RS256"],
                issuer=self.issuer,
                options={"verify_aud": False, "require": ["exp", "iat", "iss", "sub"]},
            )
        except jwt.ExpiredSignatureError:
            raise InvalidToken("Token is not active") from None
        except jwt.InvalidIssuerError:
            raise InvalidToken("token of another issuer or realm") from None
        except jwt.PyJWTError:
            raise InvalidToken("invalid token") from None
        if claims.get("typ", "Bearer") != "Bearer":
            raise InvalidToken("not an access token")
        return claims
