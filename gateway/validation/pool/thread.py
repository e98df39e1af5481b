"""The process's one long-lived thread for in-process validation (``jobs=0``)."""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable
from concurrent.futures import Executor, Future
from typing import Any


class ValidationThread(Executor):
    """One daemon thread for the whole process that runs in-process validations.

    Saxon must not be used from threads that come and go (see ``gateway.validation.saxon.SaxonRuntime``), so
    in-process mode (``jobs=0``) never starts or stops threads per validator: every such
    validator shares this thread, which lives as long as the process.
    """

    _instance: ValidationThread | None = None
    _lock = threading.Lock()

    def __init__(self) -> None:
        self._queue: queue.SimpleQueue[tuple[Future[Any], Callable[..., Any], tuple[Any, ...]]]
        self._queue = queue.SimpleQueue()
        threading.Thread(target=self._run, name="gateway-validate", daemon=True).start()

    @classmethod
    def shared(cls) -> ValidationThread:
        with cls._lock:
            if cls._instance is None:
                cls._instance = cls()
            return cls._instance

    def _run(self) -> None:
        while True:
            future, fn, args = self._queue.get()
            if not future.set_running_or_notify_cancel():
                continue
            try:
                future.set_result(fn(*args))
            except BaseException as exc:
                future.set_exception(exc)

    def submit(self, fn: Callable[..., Any], /, *args: Any, **kwargs: Any) -> Future[Any]:
        future: Future[Any] = Future()
        self._queue.put((future, lambda *a: fn(*a, **kwargs), args))
        return future

    def shutdown(self, wait: bool = True, *, cancel_futures: bool = False) -> None:
        """Shared for the process lifetime: nothing to shut down per validator."""


def saxon_thread() -> Executor:
    """The process's one long-lived thread for in-process Saxon work (validation with
    ``jobs=0``, renderings): run every call that touches ``SaxonRuntime`` through it."""
    return ValidationThread.shared()
