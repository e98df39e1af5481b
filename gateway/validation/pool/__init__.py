"""Validation off the event loop: engines in worker processes behind an async facade.

:class:`Validator` is what channels, the server and the KoSIT daemon use; :mod:`.workers` is
the process pool (one pipe per worker), :mod:`.thread` the in-process mode (``jobs=0``).
"""

from gateway.validation.pool.service import Validator, default_jobs
from gateway.validation.pool.thread import saxon_thread
from gateway.validation.pool.workers import WorkersBroken

__all__ = ["Validator", "WorkersBroken", "default_jobs", "saxon_thread"]
