"""Who holds a claim: one token per process for the rows it leases.

Why one: the outbound queue's leases, the webhook deliveries' claims and the Peppol report
claims each name the process that holds them, so an operator reading ``lease_owner`` sees which
host and process it is, and a process can tell its own claims from another's. Host and pid say
where; the random part keeps a restarted process (a reused pid) from taking the claims of the
one before as its own.
"""

from __future__ import annotations

import os
import secrets
import socket


def owner_id() -> str:
    """``host:pid:random`` (at most 55 characters)."""
    return f"{socket.gethostname()[:40]}:{os.getpid()}:{secrets.token_hex(3)}"
