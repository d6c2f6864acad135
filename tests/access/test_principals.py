"""The cache of callers by token (access/deps.py `Principals`): what it keeps and forgets."""

from __future__ import annotations

from sodata.access.deps import Principals
from sodata.access.principal import Principal

KEY = ("token", "http://127.0.0.1:8080/")
ALICE = Principal(user_id=1, email="alice@example.com")


def test_a_caller_is_kept_until_a_change_is_committed() -> None:
    cache = Principals(seconds=60)
    cache.put(KEY, ALICE, expires=2e9, generation=cache.generation)
    assert cache.get(KEY) == (ALICE, 2e9)
    cache.forget()
    assert cache.get(KEY) is None


def test_a_caller_read_before_a_change_is_never_served() -> None:
    cache = Principals(seconds=60)
    seen = cache.generation  # the caller is read from the database ...
    cache.forget()  # ... while another request commits a change (a logout, a role)
    cache.put(KEY, ALICE, expires=2e9, generation=seen)
    assert cache.get(KEY) is None


def test_no_cache_with_zero_seconds() -> None:
    cache = Principals(seconds=0)
    cache.put(KEY, ALICE, expires=2e9, generation=cache.generation)
    assert cache.get(KEY) is None
