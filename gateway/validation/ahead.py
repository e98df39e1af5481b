"""A one-shot validation's XSD and later Schematron layers run beside it, in a forked child.

Why (issue 18, target 5): ``gateway validate FILE`` is one process for one document, and most
of its second went to one-time builds done one after the other on one core of two: Saxon
compiling the EN 16931 stylesheet (~0.5 s on the quiet VM) and then the XRechnung one
(~0.15 s), libxml2 loading the UBL schema (~0.15 s). Threads cannot overlap them: saxonche holds
the GIL while it compiles (a Python thread spinning beside a compile ran at ~2 % of its free
rate), and an XSD load in a thread beside the compile made the whole slower, not faster
(1.16-1.89 s against 0.91-1.52 s, three interleaved pairs on the loaded VM). A child forked
before this process starts Saxon can: it loads the XSD and compiles and runs the later layers
while the parent compiles and runs the first (largest) one, then hands back its findings.

Exact: the child runs the same steps' code (:class:`.steps.Schema`, :class:`.steps.Schematron`)
on a copy-on-write clone of the same run - the same bytes, tree and scenario - and the parent
puts its findings in their layer's place (xsd, then the layers in order), as if it had run
them. Anything that goes wrong in the child (an exception, a crash, a signal) makes the parent
run that work itself, so the report never depends on the child.

Safe: forking is allowed only in an engine built for one document (``Engine(one_shot=True)``,
which ``gateway validate`` uses for a single file), while the process has one thread and no
Saxon processor (a GraalVM isolate must not be cloned; a forked lock held by another thread
would never be released). The child never returns into the caller's code: it writes its
answer to a pipe and leaves with ``os._exit``, so no buffer, ``atexit`` hook or finaliser of
the parent runs twice.
"""

from __future__ import annotations

import contextlib
import os
import pickle
import threading
from collections.abc import Callable
from typing import Any

from gateway.validation import steps
from gateway.validation.report import RawFinding

#: Where the parent keeps the child while the run goes on.
PENDING = "ahead-pending"

#: One delegated layer's answer: (position, source, findings).
Answer = tuple[int, str, list[RawFinding]]


class Forked:
    """``work()`` computed in a forked child; :meth:`result` is its value, or None if the child
    failed in any way (the caller then does the work itself)."""

    def __init__(self, work: Callable[[], Any]) -> None:
        read, write = os.pipe()
        pid = os.fork()
        if pid == 0:  # the child: never returns
            os.close(read)
            status = 1
            try:
                payload = pickle.dumps(work(), pickle.HIGHEST_PROTOCOL)
                with os.fdopen(write, "wb") as out:
                    out.write(payload)
                status = 0
            finally:
                os._exit(status)
        os.close(write)
        self.pid, self._read = pid, read
        self._done = False
        self._value: Any = None

    def result(self) -> Any:
        if not self._done:
            self._done = True
            with os.fdopen(self._read, "rb") as pipe:
                data = pipe.read()
            _, status = os.waitpid(self.pid, 0)
            if os.waitstatus_to_exitcode(status) == 0:
                with contextlib.suppress(Exception):
                    self._value = pickle.loads(data)
        return self._value


class Ahead:
    """Forks the XSD and the Schematron layers after the first into a child (see the module).

    ``forkable()`` says whether this process may fork now (no Saxon processor yet)."""

    name = "ahead"

    def __init__(
        self, schema: steps.Schema, schematron: steps.Schematron, forkable: Callable[[], bool]
    ) -> None:
        self.schema = schema
        self.schematron = schematron
        self.forkable = forkable

    def run(self, run: steps.Run) -> None:
        scenario = run.scenario
        assert scenario is not None
        if not scenario.schematron or not self._may_fork():
            return
        later = list(range(1, len(scenario.schematron)))
        run.delegated = frozenset([steps.XSD, *(i + 1 for i in later)])
        run.extra[PENDING] = Forked(lambda: self._child(run, later))

    def _may_fork(self) -> bool:
        return (
            hasattr(os, "fork")
            and _cores() > 1  # on one core the child only adds its start
            and threading.active_count() == 1
            and self.schematron.after_invalid_schema  # the layers do not wait for the XSD's verdict
            and self.forkable()
        )

    def _child(self, run: steps.Run, later: list[int]) -> tuple[list[Answer], dict[str, float]]:
        """In the child: the delegated layers, as the steps would have run them."""
        run.delegated = frozenset()
        run.timings = {}
        self.schema.run(run)
        run.lap("schema")
        out: list[Answer] = [(steps.XSD, *run.layer_output[-1])]
        for i, (source, raws) in zip(later, self.schematron.check(run, later), strict=True):
            out.append((i + 1, source, raws))
        run.timings.pop("schematron-parse", None)  # the parent's parse is the one reported
        return out, run.timings


class Join:
    """Takes the child's findings (or, if it failed, runs those layers here) and puts every
    layer's findings in layer order."""

    name = "join"

    def __init__(self, schema: steps.Schema, schematron: steps.Schematron) -> None:
        self.schema = schema
        self.schematron = schematron

    def run(self, run: steps.Run) -> None:
        pending: Forked | None = run.extra.pop(PENDING, None)
        if pending is None:
            return
        scenario = run.scenario
        assert scenario is not None
        delegated = sorted(run.delegated)
        own = [p for p in range(len(scenario.schematron) + 1) if p not in run.delegated]
        placed = dict(zip(own, run.layer_output, strict=True))
        answer = pending.result()
        run.lap("join")
        if answer is not None:
            answers, timings = answer
            run.timings.update(timings)
        else:  # the child failed: the same work, here
            run.delegated = frozenset()
            answers = [(steps.XSD, "xsd", self.schema.check(run))]
            later = [p - 1 for p in delegated if p != steps.XSD]
            answers += [
                (i + 1, *found)
                for i, found in zip(later, self.schematron.check(run, later), strict=True)
            ]
        placed.update({position: (source, raws) for position, source, raws in answers})
        run.layer_output, run.findings = [], []
        for position in sorted(placed):
            steps.record(run, *placed[position])


def _cores() -> int:
    """The cores this process may run on (a container's CPU set, not the machine's)."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1
