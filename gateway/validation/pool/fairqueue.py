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

A worker asks for the documents it has served the like of first (``pop(prefer=...)``: the
first of the next few in its key's line whose :func:`family` it knows, else the head). Why:
compiling a scenario costs a worker 0.7-0.8 s of CPU, and with UBL and CII mixed every worker
compiled both; now each compiles what its share needs (issue 18 target 5: the batch of 344
suite files spent more CPU compiling than validating). Order within a key changes only by this
lookahead; fairness between keys does not.

Pure data structure: the worker pool (:mod:`.workers`) holds the lock.
"""

from __future__ import annotations

import re
import time
from collections import OrderedDict, deque
from concurrent.futures import Future
from dataclasses import dataclass, field
from typing import Any

#: Tags above which a document is heavy (see the module docstring).
HEAVY_TAGS = 20_000
#: How far into its key's line a worker looks for a document of a family it knows.
LOOKAHEAD = 256
_ROOT = re.compile(rb"<(?:[A-Za-z_][\w.-]*:)?([A-Za-z_][\w.-]*)[\s>/]")
_SPEC = re.compile(
    rb"(?:CustomizationID|GuidelineSpecifiedDocumentContextParameter>\s*<(?:\w+:)?ID)[^>]*>([^<]{1,200})<"
)


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
    family: bytes = b""  # what kind of document (see family()): which rules it needs


def weight(data: bytes) -> int:
    """Number of tags: what validation time grows with."""
    return data.count(b"<")


def family(data: bytes, scenario: str | None = None) -> bytes:
    """A cheap guess at which rules ``data`` needs: the root's local name and the first three
    ``#`` parts of the first specification id (UBL ``CustomizationID``, CII guideline id) in
    its first 8 KB - the standard and its CIUS, e.g. ``urn:cen.eu:en16931:2017``,
    ``compliant``, ``urn:xeinkauf.de:kosit:xrechnung_3.0``: XRechnung's extension and CVD
    documents add parts but share its stylesheets. Only a hint for placing work: a wrong
    guess costs a compile, never a wrong report."""
    if scenario:
        return scenario.encode()
    head = data[:8192]
    body = head[head.find(b"?>") + 2 :] if head.startswith(b"<?") else head
    root = _ROOT.search(body.lstrip(b"\xef\xbb\xbf"))
    spec = _SPEC.search(head)
    cius = b"#".join(spec.group(1).strip().split(b"#")[:3]) if spec else b""
    return (root.group(1) if root else b"") + b"|" + cius


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

    def pop(
        self,
        *,
        heavy_allowed: bool = True,
        prefer: set[bytes] | None = None,
        avoid: set[bytes] | None = None,
        patience: float | None = None,
    ) -> Job | None:
        """The head of the first key in turn whose head may run - or the first of that key's
        next LOOKAHEAD that may run and is of a family in ``prefer`` (a worker's own), else
        (no ``prefer``) of one not in ``avoid`` (the other workers'), unless the head has
        waited ``patience`` seconds (so no document starves behind others); that key goes to
        the back."""
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
            choose = (prefer or avoid) and (
                patience is None or time.monotonic() - jobs[0].queued_at < patience
            )
            index = _preferred(jobs, prefer, avoid, heavy_allowed) if choose else 0
            job = jobs[index]
            del jobs[index]
            self._size -= 1
            self._queues.move_to_end(key)
            if not jobs:
                del self._queues[key]
            return job
        return None

    def count(self, family: bytes) -> int:
        """Queued jobs of ``family``."""
        return sum(1 for jobs in self._queues.values() for job in jobs if job.family == family)

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


def _preferred(
    jobs: deque[Job], prefer: set[bytes] | None, avoid: set[bytes] | None, heavy_allowed: bool
) -> int:
    for index in range(min(LOOKAHEAD, len(jobs))):
        job = jobs[index]
        if (
            (job.family in prefer if prefer else job.family not in (avoid or ()))
            and (heavy_allowed or not job.heavy)
            and not job.future.cancelled()
        ):
            return index
    return 0
