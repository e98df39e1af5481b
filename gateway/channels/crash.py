"""Named crash points for the kill -9 tests (issue 17): the process SIGKILLs itself where a
test says, so "a kill -9 at any moment loses nothing accepted" is checked at the moments that
matter instead of hoping a timer hits them.

``GATEWAY_CRASH_AT="as4.committed:3,as4.in-transaction:1"`` kills this process the 3rd time it
reaches ``as4.committed`` (and the 1st time ``as4.in-transaction``). Read once at import; unset
(production) a crash point is one truth test of an empty dict.
"""

from __future__ import annotations

import logging
import os
import signal

log = logging.getLogger(__name__)

ENV = "GATEWAY_CRASH_AT"


def _plan(text: str) -> dict[str, int]:
    plan = {}
    for part in filter(None, (p.strip() for p in text.split(","))):
        name, _, nth = part.partition(":")
        plan[name] = int(nth or "1")
    return plan


_PLAN = _plan(os.environ.get(ENV, ""))
_SEEN: dict[str, int] = {}


def crash_point(name: str) -> None:
    """SIGKILL this process if the plan says so for this passage of ``name``."""
    if not _PLAN or name not in _PLAN:
        return
    _SEEN[name] = _SEEN.get(name, 0) + 1
    if _SEEN[name] == _PLAN[name]:
        log.warning("crash point %s reached (passage %d): kill -9", name, _SEEN[name])
        os.kill(os.getpid(), signal.SIGKILL)
