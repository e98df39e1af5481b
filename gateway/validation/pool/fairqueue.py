"""The queue in front of the validation workers: fair between senders, with a lane kept free.

Why: two hostile documents, one of them over unauthenticated SMTP, used to pin both workers
while every other document waited behind them (issue 14: a normal invoice took 57 s instead
of 15 ms). Two rules bound what one sender can do to the others:

- **Round robin by key.** Each request carries a key (the intake uses ``channel:tenant``);
  every key has its own FIFO and a free worker takes the head of the next key in turn, so a
  sender with a hundred queued documents delays another sender's next document by at most one
  document per busy worker, not by a hundred.
- **A lane for small documents.** Validation time grows with the number of elements (linear
  since the quadratic paths were removed), so a document's weight is its number of tags
  (``data.count(b"<")``: ~1 ms per MB, attachments weigh nothing). Heavy documents (more than
  ``heavy_tags``, default 20,000: a 600-line invoice) may occupy all workers but one; the last
  one is kept for the others. With two workers a normal invoice therefore never waits for a
  heavy document, only for at most one normal one.

Pure data structure: the worker pool (:mod:`.workers`) holds the lock.
"""

from __future__ import annotations

import time
from collections import OrderedDict, deque
from concurrent.futures import Future
from dataclasses import dataclass, field
from typing import Any

#: Tags above which a document is heavy (see the module docstring).
HEAVY_TAGS = 20_000


@dataclass
class Job:
    """One validation request, from submission until its worker answers."""

    message: bytes
    size: int
    deadline: float  # seconds of worker time this document may use (0 = unbounded)
    key: str = "default"
    heavy: bool = False
    future: Future[Any] = field(default_factory=Future)
    queued_at: float = field(default_factory=time.monotonic)
    started_at: float | None = None
    compiled: float = 0.0  # the worker's compile seconds when the job started


def weight(data: bytes) -> int:
    """Number of tags: what validation time grows with."""
    return data.count(b"<")


class FairQueue:
    """Per-key FIFOs served round robin; cancelled jobs are dropped as they are met."""

    def __init__(self) -> None:
        self._queues: OrderedDict[str, deque[Job]] = OrderedDict()
        self._size = 0

    def __len__(self) -> int:
        return self._size

    def put(self, job: Job) -> None:
        self._queues.setdefault(job.key, deque()).append(job)
        self._size += 1

    def put_front(self, job: Job) -> None:
        """Back to the head of its key's line (a job taken back from a worker's pipe)."""
        self._queues.setdefault(job.key, deque()).appendleft(job)
        self._size += 1

    def pop(self, *, heavy_allowed: bool = True) -> Job | None:
        """The head of the first key in turn whose head may run; that key goes to the back."""
        for key in list(self._queues):
            jobs = self._queues[key]
            while jobs and jobs[0].future.cancelled():
                jobs.popleft()
                self._size -= 1
            if not jobs:
                del self._queues[key]
                continue
            if jobs[0].heavy and not heavy_allowed:
                continue
            job = jobs.popleft()
            self._size -= 1
            self._queues.move_to_end(key)
            if not jobs:
                del self._queues[key]
            return job
        return None

    def purge(self) -> None:
        """Drop cancelled jobs now (``pop`` drops them too, but ``len`` should not count them)."""
        for key in list(self._queues):
            jobs = self._queues[key]
            kept = deque(job for job in jobs if not job.future.cancelled())
            self._size -= len(jobs) - len(kept)
            if kept:
                self._queues[key] = kept
            else:
                del self._queues[key]

    def oldest_age(self, now: float | None = None) -> float:
        """Seconds the longest-waiting job has been queued (0 when empty)."""
        heads = [jobs[0].queued_at for jobs in self._queues.values() if jobs]
        return max(0.0, (now or time.monotonic()) - min(heads)) if heads else 0.0

    def drain(self) -> list[Job]:
        jobs = [job for q in self._queues.values() for job in q]
        self._queues.clear()
        self._size = 0
        return jobs
