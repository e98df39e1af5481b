"""One claim-holder token per process (``gateway.owner``): host and pid say which process holds
a lease, the random part tells a restarted process (a reused pid) from the one before."""

from __future__ import annotations

import os
import socket

from gateway.owner import owner_id


def test_the_token_names_host_and_pid_and_differs_per_call() -> None:
    first, second = owner_id(), owner_id()
    host, pid, rand = first.split(":")
    assert host == socket.gethostname()[:40] and pid == str(os.getpid()) and len(rand) == 6
    assert first != second
    assert len(first) <= 64  # the narrowest owner column (peppol_report_claims.owner)
