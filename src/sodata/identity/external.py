"""Trusting an external Keycloak realm instead of the embedded provider: its JWKS is fetched
from the realm's discovery document and cached; an unknown kid refetches it, so the realm's
key rotations are followed at once.

Refetches on unknown kids are rate-limited (a burst, then one every few seconds), so tokens
with made-up kids cannot flood the identity provider, yet a real rotation right after another
fetch is still seen. When the provider cannot be reached, the keys already fetched stay in use
(tokens still expire on their own) and it is asked again only every few seconds."""

from __future__ import annotations

import logging
import threading
import time
from typing import Any

import httpx
import jwt
from jwt.algorithms import RSAAlgorithm

from sodata.identity.tokens import InvalidToken

log = logging.getLogger(__name__)

REFETCH_BURST = 3  # refetches an unknown kid may cause back to back
REFETCH_EVERY = 10.0  # then at most one per this many seconds; also the retry delay on failure


class ExternalIssuer:
    def __init__(self, issuer: str, cache_seconds: int) -> None:
        self.issuer = issuer.rstrip("/")
        self.cache_seconds = cache_seconds
        self._keys: dict[str, Any] = {}
        self._fetched_at = -1e9  # of the last successful fetch
        self._retry_at = 0.0  # no fetch before this, after a failed one
        self._allowance = float(REFETCH_BURST)  # refetches on unknown kids, refilled over time
        self._counted_at = time.monotonic()
        self._lock = threading.Lock()

    def _fetch(self) -> None:
        with httpx.Client(timeout=10) as http:
            config = http.get(f"{self.issuer}/.well-known/openid-configuration")
            config.raise_for_status()
            if str(config.json().get("issuer", "")).rstrip("/") != self.issuer:
                raise ValueError(f"the discovery document names another issuer than {self.issuer}")
            jwks = http.get(config.json()["jwks_uri"])
            jwks.raise_for_status()
        self._keys = {
            k["kid"]: RSAAlgorithm.from_jwk(k)
            for k in jwks.json().get("keys", [])
            if k.get("kty") == "RSA" and k.get("use", "sig") == "sig" and "kid" in k
        }
        self._fetched_at = time.monotonic()

    def _may_refetch_for_unknown_kid(self, now: float) -> bool:
        self._allowance = min(
            REFETCH_BURST, self._allowance + (now - self._counted_at) / REFETCH_EVERY
        )
        self._counted_at = now
        if self._allowance < 1:
            return False
        self._allowance -= 1
        return True

    def _key(self, kid: str) -> Any:
        with self._lock:
            now = time.monotonic()
            expired = now - self._fetched_at > self.cache_seconds
            if now >= self._retry_at and (
                expired or (kid not in self._keys and self._may_refetch_for_unknown_kid(now))
            ):
                try:
                    self._fetch()
                except (
                    httpx.HTTPError,
                    jwt.PyJWTError,
                    LookupError,
                    TypeError,
                    ValueError,
                    AttributeError,
                ) as exc:  # an unreachable or a broken provider
                    self._retry_at = now + REFETCH_EVERY
                    log.warning(
                        "the keys of %s could not be fetched (%s: %s); %s",
                        self.issuer,
                        type(exc).__name__,
                        exc,
                        "keeping the previous ones" if self._keys else "tokens are refused",
                    )
            if not self._keys:
                raise InvalidToken("the identity provider's keys are unavailable")
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
        try:  # a token of another issuer never makes us ask the identity provider
            unverified = jwt.decode(token, options={"verify_signature": False})
        except jwt.PyJWTError:
            raise InvalidToken("malformed token") from None
        if str(unverified.get("iss", "")).rstrip("/") != self.issuer:
            raise InvalidToken("token of another issuer or realm")
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


def audience_allowed(claims: dict[str, Any], audience: str | None) -> bool:
    """Whether a token was issued to one of the comma-separated clients (its `azp`, or in its
    `aud`): every client of a realm gets tokens from it, not all of them are meant for us.
    No audience: any client is."""
    allowed = {a.strip() for a in (audience or "").split(",") if a.strip()}
    if not allowed:
        return True
    aud = claims.get("aud")
    named = set(aud) if isinstance(aud, list) else {aud}
    named.add(claims.get("azp"))
    return bool(allowed & {str(n) for n in named if n})
