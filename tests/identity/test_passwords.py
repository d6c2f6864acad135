"""The cost of the argon2id hashes (SODATA_ARGON2_*): RFC 9106's defaults, and a hash made at
another cost rehashed at the next sign-in with the right password or secret."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import httpx
import pytest
from argon2 import PasswordHasher
from argon2.exceptions import VerificationError
from pydantic import ValidationError
from sqlalchemy import select

from sodata.config import Settings
from sodata.demo.credentials import DEMO_PASSWORD
from sodata.identity import passwords
from sodata.models import OAuthClient, User
from tests import factories
from tests.conftest import TEST_ARGON2, Server, open_session
from tests.identity.conftest import password_form, token_request

# The cost the tests' servers hash at (tests/conftest.py), and another one.
IN_FORCE = "$argon2id$v=19$m=8,t=1,p=1$"
OTHER = PasswordHasher(memory_cost=16, time_cost=2, parallelism=2)


@pytest.fixture
def cost_from(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """The hasher of this process reads the environment again (it is read at first use)."""
    passwords._hasher.cache_clear()
    yield
    passwords._hasher.cache_clear()


def test_the_default_cost_is_rfc_9106_low_memory(
    monkeypatch: pytest.MonkeyPatch, cost_from: None
) -> None:
    for name in TEST_ARGON2:
        monkeypatch.delenv(name)
    stored = passwords.hash_secret("a secret")
    assert stored.startswith("$argon2id$v=19$m=65536,t=3,p=4$")
    assert passwords.verify_secret(stored, "a secret")
    assert not passwords.verify_secret(stored, "another")
    assert not passwords.needs_rehash(stored)


def test_a_cost_set_in_the_environment_is_used(
    monkeypatch: pytest.MonkeyPatch, cost_from: None
) -> None:
    monkeypatch.setenv("SODATA_ARGON2_MEMORY_KIB", "32")
    monkeypatch.setenv("SODATA_ARGON2_ITERATIONS", "2")
    monkeypatch.setenv("SODATA_ARGON2_PARALLELISM", "2")
    stored = passwords.hash_secret("a secret")
    assert stored.startswith("$argon2id$v=19$m=32,t=2,p=2$")
    assert passwords.needs_rehash(OTHER.hash("a secret"))


def test_too_little_memory_for_the_lanes_says_how_much(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SODATA_ARGON2_MEMORY_KIB", "16")
    monkeypatch.setenv("SODATA_ARGON2_PARALLELISM", "4")
    with pytest.raises(
        ValidationError,
        match="SODATA_ARGON2_MEMORY_KIB must be at least 8 "
        "per lane of SODATA_ARGON2_PARALLELISM: 32 or more",
    ):
        Settings()


def _stored_password(server: Server, email: str) -> str:
    with open_session(server.database_url) as session:
        stored = session.scalar(select(User.password_hash).where(User.email == email))
    assert stored is not None
    return stored


def _store_password(server: Server, email: str, stored: str) -> None:
    with open_session(server.database_url) as session:
        session.scalars(select(User).where(User.email == email)).one().password_hash = stored
        session.commit()


def test_a_password_hashed_at_another_cost_is_rehashed_at_sign_in(
    server: Server, api: httpx.Client
) -> None:
    email = f"rehash-{uuid.uuid4().hex[:10]}@example.com"
    ca = factories.corporate_account(api)
    user = {"email": email, "role": "viewer", "password": DEMO_PASSWORD}
    factories.created(api.post(f"/api/v1/ca/{ca['uuid']}/users", json=user))
    assert _stored_password(server, email).startswith(IN_FORCE)
    _store_password(server, email, OTHER.hash(DEMO_PASSWORD))

    # a wrong password changes nothing
    assert token_request(server, password_form(email, "wrong password")).status_code == 401
    assert _stored_password(server, email).startswith("$argon2id$v=19$m=16,t=2,p=2$")

    assert token_request(server, password_form(email)).status_code == 200
    rehashed = _stored_password(server, email)
    assert rehashed.startswith(IN_FORCE)
    PasswordHasher().verify(rehashed, DEMO_PASSWORD)  # the same password, at the cost in force
    with pytest.raises(VerificationError):
        PasswordHasher().verify(rehashed, "wrong password")
    assert token_request(server, password_form(email)).status_code == 200


def test_a_client_secret_hashed_at_another_cost_is_rehashed_when_used(
    server: Server, api: httpx.Client
) -> None:
    client_id = f"rehash-{uuid.uuid4().hex[:10]}"
    ca = factories.corporate_account(api)
    client = {"clientId": client_id, "role": "viewer"}
    secret = factories.created(api.post(f"/api/v1/ca/{ca['uuid']}/clients", json=client))[
        "clientSecret"
    ]
    with open_session(server.database_url) as session:
        row = session.scalars(select(OAuthClient).where(OAuthClient.client_id == client_id)).one()
        row.secret_hash = OTHER.hash(secret)
        session.commit()

    form = {"grant_type": "client_credentials", "client_id": client_id, "client_secret": secret}
    assert token_request(server, form).status_code == 200
    with open_session(server.database_url) as session:
        stored = session.scalar(
            select(OAuthClient.secret_hash).where(OAuthClient.client_id == client_id)
        )
    assert stored is not None and stored.startswith(IN_FORCE)
    assert token_request(server, form).status_code == 200
