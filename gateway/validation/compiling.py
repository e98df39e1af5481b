"""Time spent compiling, which a document's deadline does not count.

Why: stylesheets are compiled once per worker before it takes documents, but the strict XSD
model (``xmlschema``, built on the first document libxml2 rejects) and scenarios of an engine
that was not warmed are built on first use - several seconds on a loaded machine. That is the
worker's one-time cost, not the document's, so a deadline must not kill a worker for it. The
worker process installs a shared clock (:func:`install`); every one-time build runs inside
:func:`compiling`, and the pool subtracts the time from the document's elapsed time.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

#: Shared doubles ``[seconds compiled so far, monotonic start of the current build or 0]``.
_clock: Any = None


def install(clock: Any) -> None:
    global _clock
    _clock = clock


@contextmanager
def compiling() -> Iterator[None]:
    if _clock is None or _clock[1]:
        yield  # no pool watching, or nested in another build
        return
    started = time.monotonic()
    _clock[1] = started
    try:
        yield
    finally:
        _clock[0] += time.monotonic() - started
        _clock[1] = 0.0


def seconds(clock: Any, now: float) -> float:
    """Compile seconds so far, the current build included (read by the pool)."""
    current = clock[1]
    return clock[0] + (now - current if current else 0.0)
