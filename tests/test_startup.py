"""The start-up block (sodata.startup): no cyclic collection inside; what it made is
frozen afterwards, and the collector is as it was before."""

import gc
import weakref

import pytest

from sodata.startup import startup


class Node:
    def __init__(self) -> None:
        self.me = self  # a cycle: only the cyclic collector frees it


@pytest.fixture
def collector():
    enabled = gc.isenabled()
    gc.enable()
    yield
    gc.unfreeze()  # (what the session froze too: the collector walks it again, nothing else)
    gc.enable() if enabled else gc.disable()


def test_no_collection_inside_and_what_was_made_is_frozen(collector):
    collections: list[str] = []

    def seen(phase: str, info: dict) -> None:
        if phase == "start":
            collections.append(phase)

    gc.callbacks.append(seen)
    try:
        with startup():
            assert not gc.isenabled()
            kept = [Node() for _ in range(50_000)]  # far past the first generation's 700
            assert collections == []
        assert gc.isenabled()
        # a cycle made inside is out of the collector's reach; one made after is collected
        inside = weakref.ref(kept[0])
        after = Node()
        outside = weakref.ref(after)
        del kept, after
        gc.collect()
        assert inside() is not None
        assert outside() is None
    finally:
        gc.callbacks.remove(seen)


def test_the_collector_stays_off_when_it_was_off(collector):
    gc.disable()
    with startup():
        pass
    assert not gc.isenabled()
