"""Validation off the event loop: engines in worker processes behind an async facade.

:class:`Validator` is what channels, the server and the KoSIT daemon use; :mod:`.workers` is
the process pool (one pipe per worker, deadlines, memory bound), :mod:`.fairqueue` the queue
in front of it (fair between senders, a worker kept for light documents), :mod:`.thread` the
in-process mode (``jobs=0``).
"""

from gateway.validation.pool.service import Validator, default_jobs
from gateway.validation.pool.thread import saxon_thread
from gateway.validation.pool.workers import Bounds, ValidationTimeout, WorkersBroken

__all__ = [
    "Bounds",
    "ValidationTimeout",
    "Validator",
    "WorkersBroken",
    "default_jobs",
    "saxon_thread",
]
