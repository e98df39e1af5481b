"""Validation worker processes, each fed through its own pipe, with bounded work per document.

Why not ``concurrent.futures.ProcessPoolExecutor``: profiling the server process at full load
showed its bookkeeping (a management thread, a queue feeder thread, pickled call items, several
thread hand-offs per task) costing ~0.7 ms of CPU per document - CPU the workers need on a
two-core machine. Here each worker has one duplex pipe and one receiver thread; one dispatcher
thread hands queued requests to idle workers and watches the clock.

Bounds (issue 14, issue 18 item 7):

- **Deadline.** A document may use ``timeout + timeout_per_mb x MB`` seconds of its worker;
  then the worker is killed (SIGKILL: Saxon cannot be interrupted) and replaced, and the
  request fails with :class:`ValidationTimeout`, which the facade turns into a
  ``validation-timeout`` report.
- **Caller gone.** A request whose future was cancelled (the awaiting task was cancelled) is
  dropped if still queued; if its worker has been at it for ``cancel_after`` seconds, the
  worker is killed and replaced. Below that it is left to finish: a replacement costs a few
  seconds of CPU (compiling the stylesheets), more than the rest of a short document.
- **Fairness.** Requests wait in a :class:`~.fairqueue.FairQueue` in this process (round robin
  by sender key, one worker kept for light documents), not in the workers' pipes: a worker gets
  its next document only when it has answered the last one, so nothing waits behind a slow
  document that another worker could take.
- **Memory.** After each document the worker reports its resident size and its baseline
  (what it held when ready plus what its builds added, :mod:`.process`); above
  ``baseline + growth_mib`` (but not below ``floor_mib``) or ``max_rss_mib`` it first gives freed heap back
  (``malloc_trim``), and if it is still above, it says so in its answer and exits, and a fresh
  worker takes its place before it gets another document. A document pipelined behind the
  answered one goes back to the front of the queue: none is lost or validated twice.

Workers are started with ``spawn`` (never ``fork``: the server has threads and an event loop
that must not be cloned), build their engine once and ignore SIGINT, so Ctrl-C reaches only the
parent, which shuts them down. States, for ``/health``: ``starting`` (building the engine),
``idle``, ``busy``, ``dead`` (exited; replaced on the next dispatch round). A ``lazy`` pool
(``gateway serve`` without ``[validation] warm``) starts none up front: a worker is started when
a document waits that no started worker is free for, so an idle gateway holds no worker memory
and starts in a fraction of the time; the first document waits for the worker's start too.
"""

from __future__ import annotations

import contextlib
import multiprocessing
import pickle
import threading
import time
from collections import deque
from concurrent.futures import Future
from dataclasses import dataclass
from typing import Any

from gateway.validation.compiling import seconds as compile_seconds
from gateway.validation.pool.fairqueue import HEAVY_TAGS, FairQueue, Job, family, weight
from gateway.validation.pool.process import STOP, serve
from gateway.validation.report import ValidationReport

#: A light document is pipelined only behind a light one that has run less than this.
PIPELINE_SECONDS = 0.05
#: In a batch a worker leaves a document whose rules it lacks to a worker that has them,
#: unless that one has been on its current document this long (see ``_may_take``) ...
FOREIGN_AFTER = 1.0
#: ... or this many of its family wait per worker that has them (~ a compile's worth).
BATCH_BACKLOG = 64
#: Serving traffic, a document at the head of its line is passed over for documents a worker
#: has the rules of for at most this long.
PATIENCE = 0.1


class WorkersBroken(RuntimeError):
    """A worker process died (OOM, crash in native code) while it held a request."""


class ValidationTimeout(RuntimeError):
    """The document used up its deadline; its worker was killed."""

    def __init__(self, elapsed: float, limit: float) -> None:
        super().__init__(f"validation did not finish within {limit:.1f} s")
        self.elapsed = elapsed
        self.limit = limit


@dataclass(frozen=True)
class Bounds:
    """Per-document limits of the pool (``[validation]`` settings)."""

    timeout: float = 10.0  # seconds every document may use ...
    timeout_per_mb: float = 5.0  # ... plus this per MB of XML
    cancel_after: float = 2.0  # kill a worker whose caller left this long ago or more
    max_rss_mib: int = 0  # recycle a worker above this resident size after a document (0 = off)
    growth_mib: int = 0  # ... or above its own baseline by more than this (0 = off) ...
    floor_mib: int = 0  # ... unless it is at or below this size
    heavy_tags: int = HEAVY_TAGS  # heavier documents never take the last free worker

    @property
    def memory(self) -> tuple[int, int, int]:
        """What a worker checks its resident size against after each document."""
        return self.max_rss_mib, self.growth_mib, self.floor_mib

    def deadline(self, size: int) -> float:
        if self.timeout <= 0:
            return 0.0
        return self.timeout + self.timeout_per_mb * size / 1_000_000


class _Worker:
    def __init__(self, ctx: Any, initargs: tuple[Any, ...], name: str, pool: ProcessWorkers):
        self.name = name
        self.pool = pool
        self.conn, child = ctx.Pipe(duplex=True)
        self.clock = ctx.RawArray("d", 2)  # see gateway.validation.compiling
        self.process = ctx.Process(
            target=serve,
            args=(child, self.clock, *initargs),
            name=name,
            daemon=True,
        )
        self.state = "starting"
        self.since = time.monotonic()
        #: In flight, oldest first: the one being validated, and at most one light document
        #: waiting in the pipe behind a light one (so the worker never idles between them).
        self.jobs: deque[Job] = deque()
        self.documents = 0
        #: Families of the documents it was given (it has compiled their rules): it asks for
        #: those first (see fairqueue).
        self.families: set[bytes] = set()
        self.rss_mib = 0.0
        self.baseline_mib = 0.0
        self.exit_reason: str | None = None
        self.ever_ready = False
        self.process.start()
        child.close()
        threading.Thread(target=self._receive_loop, name=f"{name}-recv", daemon=True).start()

    # -- runs on the receiver thread -----------------------------------------------------------
    def _receive_loop(self) -> None:
        while True:
            try:
                message = pickle.loads(self.conn.recv_bytes())
            except (EOFError, OSError):
                self.pool._exited(self)
                return
            if message[0] == "ready":
                self.pool._ready(self)
                continue
            _, ok, value, rss, baseline, retiring = message
            self.pool._answered(self, ok, value, rss, baseline, retiring)

    # -- called with the pool lock held -------------------------------------------------------
    @property
    def job(self) -> Job | None:
        """The document being validated now."""
        return self.jobs[0] if self.jobs else None

    def set_state(self, state: str) -> None:
        self.state = state
        self.since = time.monotonic()

    def snapshot(self, now: float) -> dict[str, Any]:
        """State and for how long (busy: how long the current document has been running)."""
        job = self.job
        since = job.started_at if self.state == "busy" and job and job.started_at else self.since
        out: dict[str, Any] = {
            "name": self.name,
            "pid": self.process.pid,
            "state": self.state,
            "for_seconds": round(now - since, 3),
            "documents": self.documents,
            "rss_mib": round(self.rss_mib, 1),
            "baseline_mib": round(self.baseline_mib, 1),
        }
        if self.exit_reason:
            out["exit_reason"] = self.exit_reason
        return out

    def kill(self) -> None:
        if self.process.is_alive():
            self.process.kill()

    def close(self, timeout: float = 10.0) -> None:
        with contextlib.suppress(OSError):
            self.conn.send_bytes(STOP)
        self.process.join(timeout)
        if self.process.is_alive():
            self.process.kill()
            self.process.join(timeout)
        self.conn.close()


class ProcessWorkers:
    """``count`` worker processes behind one fair queue (see the module docstring)."""

    def __init__(
        self,
        count: int,
        initargs: tuple[Any, ...],
        bounds: Bounds | None = None,
        *,
        batch: bool = False,
        lazy: bool = False,
    ) -> None:
        self._ctx = multiprocessing.get_context("spawn")
        self.batch = batch
        #: Up to ``count`` workers; a lazy pool starts each when a document waits for it.
        self.count = count
        self.lazy = lazy
        #: Serving traffic, a document waits for a worker with its rules at most this long.
        self._patience = None if batch else PATIENCE
        self._initargs = initargs
        self.bounds = bounds or Bounds()
        self._cv = threading.Condition()
        self._queue = FairQueue()
        self._closed = False
        self.restarts: dict[str, int] = {"timeout": 0, "cancelled": 0, "memory": 0, "died": 0}
        #: Answers received from workers (every document validated once: one answer each).
        self.validated = 0
        self._workers = [] if lazy else [self._spawn(i) for i in range(count)]
        self._dispatcher = threading.Thread(
            target=self._dispatch_loop, name="gateway-validate-dispatch", daemon=True
        )
        self._dispatcher.start()

    def _spawn(self, index: int) -> _Worker:
        return _Worker(self._ctx, self._initargs, f"gateway-validate-{index}", self)

    # -- the caller's side --------------------------------------------------------------------
    def submit(
        self, data: bytes, scenario: str | None, name: str = "", key: str = "default"
    ) -> Future[ValidationReport]:
        job = Job(
            message=pickle.dumps(
                (data, scenario, name, *self.bounds.memory),
                protocol=pickle.HIGHEST_PROTOCOL,
            ),
            size=len(data),
            deadline=self.bounds.deadline(len(data)),
            key=key,
            heavy=0 < self.bounds.heavy_tags < len(data) and weight(data) > self.bounds.heavy_tags,
            family=family(data, scenario),
        )
        with self._cv:
            if self._closed:
                raise WorkersBroken("the validation pool is shut down")
            self._queue.put(job)
            self._cv.notify_all()
        return job.future

    def health(self) -> dict[str, Any]:
        """Worker states and the queue, for ``/health``."""
        now = time.monotonic()
        with self._cv:
            workers = [w.snapshot(now) for w in self._workers]
            busy = [w for w in self._workers if w.state == "busy" and w.job is not None]
            queued = len(self._queue) + sum(len(w.jobs) - 1 for w in busy)
            return {
                "workers": workers,
                "lazy": self.lazy,
                "queued": queued,
                "oldest_queued_seconds": round(self._queue.oldest_age(now), 3),
                "longest_busy_seconds": round(
                    max((now - (w.job.started_at or now) for w in busy), default=0.0), 3
                ),
                "restarts": dict(self.restarts),
                "validated": self.validated,
            }

    def pids(self) -> list[int]:
        return [w.process.pid for w in self._workers if w.process.pid is not None]

    def alive(self) -> bool:
        """Every started worker runs (a lazy pool with none started yet is alive)."""
        started = bool(self._workers) or (self.lazy and not self._closed)
        return started and all(w.process.is_alive() for w in self._workers)

    def shutdown(self) -> None:
        with self._cv:
            self._closed = True
            workers, self._workers = self._workers, []
            jobs = self._queue.drain()
            self._cv.notify_all()
        for job in jobs:
            _fail(job, WorkersBroken("the validation pool was shut down"))
        for worker in workers:
            worker.close()
        self._dispatcher.join(5)

    # -- receiver threads ---------------------------------------------------------------------
    def _ready(self, worker: _Worker) -> None:
        with self._cv:
            worker.ever_ready = True
            if worker.state == "starting":
                worker.set_state("idle")
            self._cv.notify_all()

    def _answered(
        self, worker: _Worker, ok: bool, value: Any, rss: float, baseline: float, retiring: bool
    ) -> None:
        orphans: list[Job] = []
        with self._cv:
            job = worker.jobs.popleft() if worker.jobs else None
            worker.documents += 1
            self.validated += 1
            worker.rss_mib = rss
            worker.baseline_mib = baseline
            if retiring:  # it exits now; a document behind it in the pipe goes back in line
                orphans, worker.jobs = list(worker.jobs), deque()
                for waiting in reversed(orphans):
                    self._queue.put_front(waiting)
                worker.set_state("dead")
                worker.exit_reason = f"recycled at {rss:.0f} MiB (baseline {baseline:.0f} MiB)"
                self.restarts["memory"] += 1
            elif worker.jobs:
                _start(worker.jobs[0], worker)
            elif worker.state == "busy":
                worker.set_state("idle")
            self._cv.notify_all()
        if job is not None:
            _resolve(job, ok, value)

    def _exited(self, worker: _Worker) -> None:
        worker.process.join(timeout=1)
        with self._cv:
            jobs, worker.jobs = list(worker.jobs), deque()
            if worker.state != "dead":
                worker.set_state("dead")
                worker.exit_reason = f"exited with code {worker.process.exitcode}"
                self.restarts["died"] += 1
            self._cv.notify_all()
        for job in jobs:  # the facade retries each once
            _fail(job, WorkersBroken(f"validation worker {worker.name} {worker.exit_reason}"))

    # -- the dispatcher thread ----------------------------------------------------------------
    def _dispatch_loop(self) -> None:
        while True:
            sends: list[tuple[_Worker, Job]] = []
            kills: list[tuple[_Worker, list[Job], BaseException | None]] = []
            with self._cv:
                if self._closed:
                    return
                self._watch(kills)
                self._queue.purge()
                self._replace_dead()
                self._grow()
                self._assign(sends)
                if not sends and not kills:
                    self._cv.wait(timeout=0.1)
            for worker, jobs, error in kills:
                worker.kill()
                if jobs and error is not None:
                    _fail(jobs[0], error)
            for worker, job in sends:
                # On a broken pipe the receiver sees EOF and fails the job.
                with contextlib.suppress(OSError):
                    worker.conn.send_bytes(job.message)

    def _watch(self, kills: list[tuple[_Worker, list[Job], BaseException | None]]) -> None:
        now = time.monotonic()
        for worker in self._workers:
            job = worker.job
            if worker.state != "busy" or job is None or job.started_at is None:
                continue
            elapsed = now - job.started_at - (compile_seconds(worker.clock, now) - job.compiled)
            if job.deadline and elapsed > job.deadline:
                reason = f"killed after {elapsed:.1f} s (deadline {job.deadline:.1f} s)"
                self._kill(worker, reason, "timeout", kills)
                kills[-1] = (worker, [job], ValidationTimeout(elapsed, job.deadline))
            elif job.future.cancelled() and elapsed > self.bounds.cancel_after:
                reason = f"killed after {elapsed:.1f} s: its caller went away"
                self._kill(worker, reason, "cancelled", kills)

    def _kill(self, worker: _Worker, reason: str, why: str, kills: list[Any]) -> None:
        """Mark ``worker`` dead; a document waiting behind the current one goes back in line."""
        current, *waiting = worker.jobs
        worker.jobs = deque()
        for job in reversed(waiting):
            self._queue.put_front(job)
        worker.set_state("dead")
        worker.exit_reason = reason
        self.restarts[why] += 1
        kills.append((worker, [current], None))

    def _replace_dead(self) -> None:
        now = time.monotonic()
        for i, worker in enumerate(self._workers):
            if worker.state == "dead" and not worker.jobs:
                if not worker.ever_ready and now - worker.since < 1.0:
                    continue  # it died while starting: do not respawn in a tight loop
                # The old process is killed or exiting; its receiver thread ends on EOF.
                worker.kill()
                self._workers[i] = self._spawn(i)

    def _grow(self) -> None:
        """A lazy pool starts a worker for each waiting document no started worker is free
        for (idle, or starting with nothing to do), up to ``count``."""
        free = sum(1 for w in self._workers if w.state in ("idle", "starting") and not w.jobs)
        while len(self._workers) < self.count and len(self._queue) > free:
            self._workers.append(self._spawn(len(self._workers)))
            free += 1

    def _assign(self, sends: list[tuple[_Worker, Job]]) -> None:
        if not len(self._queue):
            return
        heavy_running = sum(1 for w in self._workers if any(j.heavy for j in w.jobs))
        heavy_cap = max(1, len(self._workers) - 1)
        now = time.monotonic()
        for worker in [w for w in self._workers if w.state == "idle"]:
            job = self._queue.pop(
                heavy_allowed=heavy_running < heavy_cap,
                prefer=worker.families,
                avoid=self._others(worker) if not worker.families else None,
                patience=self._patience,
            )
            if job is None:
                break
            if not self._may_take(worker, job, now):
                self._queue.put_front(job)
                continue
            heavy_running += job.heavy
            worker.families.add(job.family)
            worker.jobs.append(job)
            worker.set_state("busy")
            _start(job, worker)
            sends.append((worker, job))
        # Pipelining: a light document goes into the pipe of a worker busy with a light one
        # that has run for less than PIPELINE_SECONDS, so the worker finds it waiting.
        for worker in self._workers:
            if not len(self._queue):
                return
            head = worker.job
            if (
                worker.state != "busy"
                or len(worker.jobs) != 1
                or head is None
                or head.heavy
                or now - (head.started_at or now) > PIPELINE_SECONDS
            ):
                continue
            job = self._queue.pop(
                heavy_allowed=False, prefer=worker.families, patience=self._patience
            )
            if job is None:
                return
            if not self._may_take(worker, job, now):
                self._queue.put_front(job)
                continue
            worker.families.add(job.family)
            worker.jobs.append(job)
            sends.append((worker, job))

    def _may_take(self, worker: _Worker, job: Job, now: float) -> bool:
        """Whether ``worker`` should take ``job``. In a batch: not if it would compile rules
        for it that another worker has, that worker is about to be free (idle, or on a
        document for less than FOREIGN_AFTER) and fewer than BATCH_BACKLOG of them wait - a
        compile (0.7-0.8 s of CPU) costs more than that worker needs for them. Serving
        traffic, always: a worker never idles while documents wait."""
        if not self.batch or not worker.families or job.family in worker.families:
            return True
        holders = [w for w in self._workers if w is not worker and job.family in w.families]
        if not any(_responsive(w, now) for w in holders):
            return True
        return self._queue.count(job.family) >= BATCH_BACKLOG * len(holders)

    def _others(self, worker: _Worker) -> set[bytes]:
        """The families other workers serve (a fresh worker starts with another one)."""
        return {f for w in self._workers if w is not worker for f in w.families}


def _responsive(worker: _Worker, now: float) -> bool:
    """Idle, or on its document for less than FOREIGN_AFTER (compiling not counted: that is
    the worker getting ready for exactly these documents)."""
    if worker.state == "idle":
        return True
    job = worker.job
    if worker.state != "busy" or job is None or job.started_at is None:
        return False
    compiled = compile_seconds(worker.clock, now) - job.compiled
    return now - job.started_at - compiled < FOREIGN_AFTER


def _start(job: Job, worker: _Worker) -> None:
    """The job's clock starts: its worker begins validating it now."""
    job.started_at = time.monotonic()
    job.compiled = compile_seconds(worker.clock, job.started_at)


def _resolve(job: Job, ok: bool, value: Any) -> None:
    # A caller that gave up cancelled its future; the answer is dropped.
    if job.future.set_running_or_notify_cancel():
        if ok:
            job.future.set_result(value)
        else:
            job.future.set_exception(value)


def _fail(job: Job, error: BaseException) -> None:
    if job.future.set_running_or_notify_cancel():
        job.future.set_exception(error)
