"""RS256 signing keys, kept in the database so that every server process signs and verifies
with the same ones. The newest active key signs; a retired key stays published in the JWKS
until every token it signed has expired, then it is dropped."""

from __future__ import annotations

import base64
import hashlib
import threading
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from jwt.algorithms import RSAAlgorithm
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from sodata.models import SigningKey

CACHE_SECONDS = 30  # how soon another process's rotation is seen by verification
MIN_RELOAD = 1.0  # seconds between reads forced by unknown kids


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def new_key() -> SigningKey:
    private = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    public_der = private.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    kid = _b64(hashlib.sha256(public_der).digest())[:32]
    jwk = RSAAlgorithm.to_jwk(private.public_key(), as_dict=True)
    pem = private.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()
    return SigningKey(
        kid=kid, private_pem=pem, public_jwk={**jwk, "kid": kid, "alg": "RS256", "use": "sig"}
    )


def ensure_key(session: Session) -> None:
    """At first start: generate the first signing key."""
    if (
        session.scalar(select(SigningKey.id).where(SigningKey.retired_at.is_(None)).limit(1))
        is None
    ):
        session.add(new_key())
        session.flush()


def rotate(session: Session) -> SigningKey:
    """A new signing key; the previous ones are retired but stay in the JWKS for a while."""
    now = datetime.now(UTC)
    for key in session.scalars(select(SigningKey).where(SigningKey.retired_at.is_(None))):
        key.retired_at = now
    key = new_key()
    session.add(key)
    session.flush()
    return key


@dataclass(frozen=True)
class KeySet:
    signing_kid: str
    signing_pem: str
    public: dict[str, dict]  # kid -> JWK, every key whose tokens may still be alive


class KeyStore:
    """Reads the keys from the database, cached for a few seconds."""

    def __init__(self, factory: sessionmaker[Session], max_token_lifetime: int) -> None:
        self._factory = factory
        self._keep = timedelta(seconds=max_token_lifetime)
        self._lock = threading.Lock()
        self._cached: KeySet | None = None
        self._loaded_at = -1e9

    def keys(self, refresh: bool = False) -> KeySet:
        """The cached keys; `refresh`: read afresh (at most once a second, since a token with
        an unknown kid asks for it, and anyone can send those)."""
        with self._lock:
            age = time.monotonic() - self._loaded_at
            fresh = age <= CACHE_SECONDS and not (refresh and age > MIN_RELOAD)
            if self._cached is not None and fresh:
                return self._cached
            with self._factory() as session:
                keys = self._load(session)
            self._store(keys)
            return keys

    def reload(self, session: Session) -> KeySet:
        """The keys read afresh through the caller's session (no second connection while the
        request holds one): tokens issued next are signed by the newest key, even one that
        `sodata keys rotate` or another process has just made."""
        keys = self._load(session)
        with self._lock:
            self._store(keys)
        return keys

    def _store(self, keys: KeySet) -> None:
        self._cached, self._loaded_at = keys, time.monotonic()

    def _load(self, session: Session) -> KeySet:
        horizon = datetime.now(UTC) - self._keep
        rows = list(session.scalars(select(SigningKey).order_by(SigningKey.id)))
        alive = [k for k in rows if k.retired_at is None or _aware(k.retired_at) > horizon]
        signing = [k for k in rows if k.retired_at is None][-1]
        return KeySet(signing.kid, signing.private_pem, {k.kid: k.public_jwk for k in alive})


def _aware(value: datetime) -> datetime:
    return value if value.tzinfo else value.replace(tzinfo=UTC)
