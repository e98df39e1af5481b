"""Time spent compiling, which a document's deadline does not count.

Why: stylesheets are compiled once per worker before it takes documents, but the strict XSD
model (``xmlschema``, built on the first document libxml2 rejects) and scenarios of an engine
that was not warmed are built on first use - several seconds on a loaded machine. That is the
worker's one-time cost, not the document's, so a deadline must not kill a worker for it. The
worker process installs a shared clock (:func:`install`); every one-time build runs inside
:func:`compiling`, and the pool subtracts the time from the document's elapsed time.

The same builds are what a worker's memory legitimately grows by (issue 18 item 7): with
``install(clock, measure)`` every outermost build adds its growth of ``measure()`` (the
worker's settled resident size) to :func:`grown`, so the pool can tell a worker that compiled
another scenario from one that kept the memory of a large document.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

#: Shared doubles ``[seconds compiled so far, monotonic start of the current build or 0]``.
_clock: Any = None
_measure: Callable[[], float] | None = None
_grown = 0.0


def install(clock: Any, measure: Callable[[], float] | None = None) -> None:
    global _clock, _measure
    _clock = clock
    _measure = measure


def grown() -> float:
    """What the builds so far added to ``measure()`` (MiB for the worker's measure)."""
    return _grown


@contextmanager
def compiling() -> Iterator[None]:
    global _grown
    if _clock is None or _clock[1]:
        yield  # no pool watching, or nested in another build
        return
    before = _measure() if _measure is not None else 0.0
    started = time.monotonic()
    _clock[1] = started
    try:
        yield
    finally:
        _clock[0] += time.monotonic() - started
        _clock[1] = 0.0
        if _measure is not None:
            _grown += max(0.0, _measure() - before)


def seconds(clock: Any, now: float) -> float:
    """Compile seconds so far, the current build included (read by the pool)."""
    current = clock[1]
    return clock[0] + (now - current if current else 0.0)
