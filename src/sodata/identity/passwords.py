"""argon2id hashes for passwords and client secrets; verification in constant time.

Every hash and verification holds one of os.cpu_count() slots: argon2 costs 64 MiB and a
core's worth of work each time, so a flood of sign-ins waits its turn instead of exhausting
the server's memory and starving the API. The cost is the settings' (SODATA_ARGON2_*), read
at first use."""

from __future__ import annotations

import functools
import os
import secrets
import threading

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from sodata.config import Settings

_slots = threading.BoundedSemaphore(os.cpu_count() or 1)


@functools.cache
def _hasher() -> PasswordHasher:
    settings = Settings()
    return PasswordHasher(
        time_cost=settings.argon2_iterations,
        memory_cost=settings.argon2_memory_kib,
        parallelism=settings.argon2_parallelism,
    )


@functools.cache
def _dummy() -> str:
    """Verified against when the user does not exist, so that the answer takes as long."""
    return hash_secret(secrets.token_urlsafe(16))


def hash_secret(secret: str) -> str:
    with _slots:
        return _hasher().hash(secret)


def verify_secret(stored_hash: str | None, secret: str) -> bool:
    against = stored_hash or _dummy()
    try:
        with _slots:
            return _hasher().verify(against, secret) and stored_hash is not None
    except (VerificationError, InvalidHashError):
        return False


def needs_rehash(stored_hash: str) -> bool:
    """Whether a hash was made at another cost than the one in force."""
    return _hasher().check_needs_rehash(stored_hash)


def new_secret() -> str:
    return secrets.token_urlsafe(32)
