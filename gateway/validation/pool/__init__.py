"""Validation off the event loop: engines in worker processes behind an async facade.

:class:`Validator` is what channels, the server and the KoSIT daemon use; :mod:`.workers` is
the process pool (one pipe per worker, deadlines, memory bound), :mod:`.fairqueue` the queue
in front of it (fair between senders, a worker kept for light documents), :mod:`.thread` the
in-process mode (``jobs=0``).
"""

from importlib import import_module
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from gateway.validation.pool.service import Validator, default_jobs
    from gateway.validation.pool.thread import saxon_thread
    from gateway.validation.pool.workers import Bounds, ValidationTimeout, WorkersBroken

_HOME = {
    "Validator": "service",
    "default_jobs": "service",
    "saxon_thread": "thread",
    "Bounds": "workers",
    "ValidationTimeout": "workers",
    "WorkersBroken": "workers",
}


def __getattr__(name: str) -> Any:
    """The names on first use. Why: a worker process starts by importing
    :mod:`.process`, which imports this package first; eager imports here loaded the facade's
    asyncio, ssl and socket into every worker (~0.1 s of each worker's start)."""
    if name in _HOME:
        return getattr(import_module(f"gateway.validation.pool.{_HOME[name]}"), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = [
    "Bounds",
    "ValidationTimeout",
    "Validator",
    "WorkersBroken",
    "default_jobs",
    "saxon_thread",
]
