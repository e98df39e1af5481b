"""Validation worker processes, each fed through its own pipe.

Why not ``concurrent.futures.ProcessPoolExecutor``: profiling the server process at full load
showed its bookkeeping (a management thread, a queue feeder thread, pickled call items, several
thread hand-offs per task) costing ~0.7 ms of CPU per document - CPU the workers need on a
two-core machine. Here each worker has one duplex pipe; a sender thread writes requests (so a
busy worker never blocks the caller) and a receiver thread resolves futures in order. Requests
are pipelined: a worker finds its next document waiting in the pipe when it finishes one.

Workers are started with ``spawn`` (never ``fork``: the server has threads and an event loop
that must not be cloned), build their engine once and ignore SIGINT, so Ctrl-C reaches only the
parent, which shuts them down.
"""

from __future__ import annotations

import multiprocessing
import pickle
import queue
import signal
import threading
from collections import deque
from concurrent.futures import Future
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

from gateway.documents import ParseLimits
from gateway.validation.engine import Engine, Pipeline
from gateway.validation.report import ValidationReport

_STOP = b""


class WorkersBroken(RuntimeError):
    """A worker process died (OOM, crash in native code) while it held requests."""


def make_engine(
    artefacts_dir: str,
    limits: ParseLimits,
    warm: bool,
    stand_ins: bool = True,
    kosit: tuple[str, str | None, bool] | None = None,
) -> Pipeline:
    """The gateway's own engine; with ``kosit=(config dir, repository, exclusive)`` a KoSIT
    one (exclusive) or both, the KoSIT one chosen per request (see ``WithKosit``)."""
    engine: Pipeline
    if kosit is not None:
        from gateway.validation.kosit import KositEngine, WithKosit, load_config

        config = load_config(Path(kosit[0]), Path(kosit[1]) if kosit[1] else None)
        engine = KositEngine(config, limits=limits, stand_ins=stand_ins)
        if not kosit[2]:
            own = Engine(Path(artefacts_dir), limits=limits, stand_ins=stand_ins)
            engine = WithKosit(own, engine)
    else:
        engine = Engine(Path(artefacts_dir), limits=limits, stand_ins=stand_ins)
    if warm:
        engine.warm()
    return engine


def _serve(
    conn: Connection,
    artefacts_dir: str,
    limits: ParseLimits,
    warm: bool,
    stand_ins: bool,
    kosit: tuple[str, str | None, bool] | None = None,
) -> None:
    """Worker process main loop: one request in, one ``(ok, report | exception)`` out."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        engine: Pipeline | None = make_engine(artefacts_dir, limits, warm, stand_ins, kosit)
        failure: BaseException | None = None
    except Exception as exc:  # answer every request with the reason instead of dying silently
        engine, failure = None, exc
    while True:
        try:
            message = conn.recv_bytes()
        except EOFError:
            return
        if message == _STOP:
            return
        data, scenario, name = pickle.loads(message)
        try:
            if engine is None:
                raise failure  # type: ignore[misc]
            answer: tuple[bool, Any] = (True, engine.validate(data, scenario, name))
        except Exception as exc:
            answer = (False, exc)
        try:
            payload = pickle.dumps(answer, protocol=pickle.HIGHEST_PROTOCOL)
        except Exception as exc:  # an unpicklable exception must still answer the request
            payload = pickle.dumps((False, RuntimeError(f"{answer[1]!r} ({exc})")))
        conn.send_bytes(payload)


class _Worker:
    def __init__(self, ctx: Any, initargs: tuple[Any, ...], name: str) -> None:
        self.conn, child = ctx.Pipe(duplex=True)
        self.process = ctx.Process(target=_serve, args=(child, *initargs), name=name, daemon=True)
        self.process.start()
        child.close()
        self.pending: deque[Future[ValidationReport]] = deque()
        self.broken = False
        self._lock = threading.Lock()
        self._outbox: queue.SimpleQueue[bytes | None] = queue.SimpleQueue()
        threading.Thread(target=self._send_loop, name=f"{name}-send", daemon=True).start()
        self._receiver = threading.Thread(
            target=self._receive_loop, name=f"{name}-recv", daemon=True
        )
        self._receiver.start()

    def submit(self, message: bytes) -> Future[ValidationReport]:
        future: Future[ValidationReport] = Future()
        with self._lock:
            if self.broken:
                raise WorkersBroken(self._why())
            self.pending.append(future)
            self._outbox.put(message)
        return future

    def _send_loop(self) -> None:
        while (message := self._outbox.get()) is not None:
            try:
                self.conn.send_bytes(message)
            except OSError:
                return  # the receiver sees EOF and fails what is pending

    def _receive_loop(self) -> None:
        while True:
            try:
                ok, value = pickle.loads(self.conn.recv_bytes())
            except (EOFError, OSError):
                self._fail()
                return
            with self._lock:
                future = self.pending.popleft()
            # A caller that gave up (e.g. the HTTP client went away) cancelled its future;
            # the answer is dropped, and this thread must live on for the next ones.
            if future.set_running_or_notify_cancel():
                if ok:
                    future.set_result(value)
                else:
                    future.set_exception(value)

    def _fail(self) -> None:
        self.process.join(timeout=1)
        with self._lock:
            self.broken = True
            pending, self.pending = list(self.pending), deque()
        for future in pending:
            if future.set_running_or_notify_cancel():
                future.set_exception(WorkersBroken(self._why()))

    def _why(self) -> str:
        return f"validation worker {self.process.name} (pid {self.process.pid}) exited with code {self.process.exitcode}"

    def close(self, timeout: float = 10.0) -> None:
        self._outbox.put(_STOP)
        self._outbox.put(None)
        self.process.join(timeout)
        if self.process.is_alive():
            self.process.terminate()
            self.process.join(timeout)
        self._receiver.join(timeout)
        self.conn.close()


class ProcessWorkers:
    """``count`` worker processes; each request goes to the one with the fewest pending."""

    def __init__(self, count: int, initargs: tuple[Any, ...]) -> None:
        self._ctx = multiprocessing.get_context("spawn")
        self._initargs = initargs
        self._lock = threading.Lock()
        self._workers = [self._spawn(i) for i in range(count)]

    def _spawn(self, index: int) -> _Worker:
        return _Worker(self._ctx, self._initargs, f"gateway-validate-{index}")

    def submit(self, data: bytes, scenario: str | None, name: str = "") -> Future[ValidationReport]:
        message = pickle.dumps((data, scenario, name), protocol=pickle.HIGHEST_PROTOCOL)
        with self._lock:
            index = min(range(len(self._workers)), key=lambda i: len(self._workers[i].pending))
            worker = self._workers[index]
            if worker.broken:  # replace a dead worker; its own requests have already failed
                worker.close(timeout=1)
                worker = self._workers[index] = self._spawn(index)
            return worker.submit(message)

    def pids(self) -> list[int]:
        return [w.process.pid for w in self._workers if w.process.pid is not None]

    def alive(self) -> bool:
        return bool(self._workers) and all(w.process.is_alive() for w in self._workers)

    def shutdown(self) -> None:
        with self._lock:
            workers, self._workers = self._workers, []
        for worker in workers:
            worker.close()
