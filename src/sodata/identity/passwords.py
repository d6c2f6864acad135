"""argon2id hashes for passwords and client secrets; verification in constant time.

Every hash and verification holds one of os.cpu_count() slots: argon2 costs 64 MiB and a
core's worth of work each time, so a flood of sign-ins waits its turn instead of exhausting
the server's memory and starving the API."""

from __future__ import annotations

import os
import secrets
import threading

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

_hasher = PasswordHasher()  # argon2id, RFC 9106 low-memory defaults
_slots = threading.BoundedSemaphore(os.cpu_count() or 1)
# Verified against when the user does not exist, so that the answer takes as long.
_DUMMY = _hasher.hash(secrets.token_urlsafe(16))


def hash_secret(secret: str) -> str:
    with _slots:
        return _hasher.hash(secret)


def verify_secret(stored_hash: str | None, secret: str) -> bool:
    try:
        with _slots:
            return _hasher.verify(stored_hash or _DUMMY, secret) and stored_hash is not None
    except (VerificationError, InvalidHashError):
        return False


def new_secret() -> str:
    return secrets.token_urlsafe(32)
