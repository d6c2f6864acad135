"""Keycloak-shaped JWTs: access, refresh and ID tokens signed RS256, and their verification."""

from __future__ import annotations

import threading
import time
import uuid
from collections import OrderedDict
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import jwt
from cryptography.hazmat.primitives.asymmetric.rsa import RSAPrivateKey
from cryptography.hazmat.primitives.serialization import load_pem_private_key
from jwt.algorithms import RSAAlgorithm

from sodata.identity.keys import KeyStore

REALM_ROLES = ["offline_access", "uma_authorization"]
VERIFIED_CACHE = 4096  # tokens whose signature need not be checked again


class InvalidToken(Exception):
    """The token is not one we accept; the message says why (never shown with secrets)."""


@dataclass(frozen=True)
class Subject:
    """Who a token is about: a user, or a client's service account."""

    sub: str
    username: str
    email: str | None
    name: str | None
    roles: list[str]


def _now() -> int:
    return int(datetime.now(UTC).timestamp())


class Tokens:
    def __init__(self, keystore: KeyStore, realm: str, access_lifetime: int) -> None:
        self.keystore = keystore
        self.realm = realm
        self.access_lifetime = access_lifetime
        self._public: dict[str, Any] = {}
        self._private: tuple[str, RSAPrivateKey] | None = None  # (kid, its key, parsed)
        # tokens whose signature was checked: token -> (kid, claims); expiry, issuer, type and
        # the key's presence are checked again on every use
        self._verified: OrderedDict[str, tuple[str, dict[str, Any]]] = OrderedDict()
        self._verified_lock = threading.Lock()

    def _sign(self, claims: dict[str, Any]) -> str:
        keys = self.keystore.keys()
        private = self._private
        if private is None or private[0] != keys.signing_kid:
            # Parsing a PEM checks the RSA key: tens of milliseconds of CPU, far more than a
            # signature, so it is done once per key, not once per token.
            key = load_pem_private_key(keys.signing_pem.encode(), password=None)
            if not isinstance(key, RSAPrivateKey):
                raise TypeError(f"the signing key {keys.signing_kid} is not an RSA key")
            private = self._private = (keys.signing_kid, key)
        return jwt.encode(claims, private[1], algorithm="RS256", headers={"kid": private[0]})

    def access_token(
        self, issuer: str, subject: Subject, client_id: str, scope: str, sid: str | None
    ) -> str:
        now = _now()
        claims: dict[str, Any] = {
            "exp": now + self.access_lifetime,
            "iat": now,
            "jti": str(uuid.uuid4()),
            "iss": issuer,
            "aud": "account",
            "sub": subject.sub,
            "typ": "Bearer",
            "azp": client_id,
            "scope": scope,
            "email_verified": subject.email is not None,
            "preferred_username": subject.username,
            "realm_access": {
                "roles": [f"default-roles-{self.realm}", *REALM_ROLES, *subject.roles]
            },
        }
        if sid:
            claims["sid"] = claims["session_state"] = sid
        if subject.email:
            claims["email"] = subject.email
        if subject.name:
            claims["name"] = subject.name
        return self._sign(claims)

    def refresh_token(
        self,
        issuer: str,
        subject: Subject,
        client_id: str,
        scope: str,
        sid: str,
        jti: str,
        exp: int,
    ) -> str:
        now = _now()
        return self._sign(
            {
                "exp": exp,
                "iat": now,
                "jti": jti,
                "iss": issuer,
                "aud": issuer,
                "sub": subject.sub,
                "typ": "Refresh",
                "azp": client_id,
                "sid": sid,
                "session_state": sid,
                "scope": scope,
            }
        )

    def id_token(
        self, issuer: str, subject: Subject, client_id: str, sid: str | None, nonce: str | None
    ) -> str:
        now = _now()
        claims: dict[str, Any] = {
            "exp": now + self.access_lifetime,
            "iat": now,
            "auth_time": now,
            "jti": str(uuid.uuid4()),
            "iss": issuer,
            "aud": client_id,
            "sub": subject.sub,
            "typ": "ID",
            "azp": client_id,
            "email_verified": subject.email is not None,
            "preferred_username": subject.username,
        }
        if sid:
            claims["sid"] = claims["session_state"] = sid
        if nonce:
            claims["nonce"] = nonce
        if subject.email:
            claims["email"] = subject.email
        return self._sign(claims)

    def verify(self, token: str, issuers: set[str], typ: str | None = "Bearer") -> dict[str, Any]:
        """The claims of a token we signed, for one of `issuers`, not expired, of type `typ`."""
        with self._verified_lock:
            hit = self._verified.get(token)
        if hit is not None and hit[0] in self.keystore.keys().public:
            claims = hit[1]
            if claims["exp"] <= time.time():
                raise InvalidToken("Token is not active")
        else:
            kid, claims = self._check_signature(token)
            with self._verified_lock:
                self._verified[token] = (kid, claims)
                while len(self._verified) > VERIFIED_CACHE:
                    self._verified.popitem(last=False)
        if claims["iss"] not in issuers:
            raise InvalidToken("token of another issuer or realm")
        if typ and claims.get("typ") != typ:
            raise InvalidToken(f"not a {typ} token")
        return claims

    def _check_signature(self, token: str) -> tuple[str, dict[str, Any]]:
        try:
            header = jwt.get_unverified_header(token)
        except jwt.PyJWTError:
            raise InvalidToken("malformed token") from None
        if header.get("alg") != "RS256":
            raise InvalidToken("unsupported signing algorithm")
        key = self._public_key(str(header.get("kid")))
        try:
            claims = jwt.decode(
                token,
                key,
                algorithms=["RS256"],
                options={"verify_aud": False, "require": ["exp", "iat", "iss", "sub"]},
            )
        except jwt.ExpiredSignatureError:
            raise InvalidToken("Token is not active") from None
        except jwt.PyJWTError:
            raise InvalidToken("invalid token") from None
        return str(header.get("kid")), claims

    def _public_key(self, kid: str) -> Any:
        jwk = self.keystore.keys().public.get(kid)
        if jwk is None:  # maybe a key another process just created
            jwk = self.keystore.keys(refresh=True).public.get(kid)
        if jwk is None:
            raise InvalidToken("token signed by an unknown key")
        if kid not in self._public:
            self._public[kid] = RSAAlgorithm.from_jwk(jwk)
        return self._public[kid]
