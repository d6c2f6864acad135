"""A process's start-up, without the cyclic garbage collector.

Importing the server makes hundreds of thousands of objects that live as long as the process
(modules, classes, schemas, routes), and hardly any garbage. CPython's cyclic collector still
runs every 700 allocations meanwhile, walks them all again at each later full collection, and
once more at exit. Measured here, importing the server and the CLI took 1.55 s of CPU; with
`startup()` around the imports, 1.0 s, the exit included. A server's start, from the command
to its first answer and its exit, went from 1.46 s to 1.18 s.

`startup()` turns the collector off for its block; on leaving, it moves every object there is
into the collector's permanent generation (`gc.freeze`), where later collections skip it, and
turns the collector on again. Reference counting frees objects as before: only cycles made
before the freeze stay. Blocks may follow each other (a command's imports, then the server's).
It is used by the `sodata` command, whose client part loads nothing of the server, and by the
server's processes, so it sits below both. A process that runs commands in-process (the tests'
CliRunner) freezes what it holds at each command: its cycles of that moment stay.
"""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager


@contextmanager
def startup() -> Iterator[None]:
    """No cyclic collection during the block; what exists at its end is frozen."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        gc.freeze()
        if enabled:
            gc.enable()
