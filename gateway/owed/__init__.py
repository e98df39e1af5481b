"""Owed work: what a move owes after its commit (a message to build and send), kept in the
database so a kill -9 between the commit and the sending loses nothing and sends nothing twice.

One implementation of lease / recover / sweep / mark-done for every feature that owes work
after a commit (France's CDAR, Invoice Responses):

- :class:`OwedColumns`: the columns a feature's owed table shares (``key``, ``state``,
  ``attempts``, ``created_at``, ``lease_until``, ``settled_at``); the feature adds what is owed;
- :class:`Outbox`: ``owe(session, row, group=)`` in the move's transaction, the after-commit
  payment, ``run(key)`` under a lease, ``sweep()``, ``wait(group)``; the feature gives it the
  table and its payer (the SPI: ``pay(row)``, idempotent by the row's key). A hot path that
  pays from what it holds in memory writes with ``add(session, row)`` and pays with
  ``run(key, pay=...)`` (the AS4 channel's MLS); a payer may name the state its row settles in
  (``outcomes``);
- :class:`Sweeps` / :data:`OWED`: the app's one recovery loop; the app factory wires it, each
  feature registers its outbox (``app[OWED].register(outbox, interval)``);
- the states :data:`PENDING`, :data:`DONE`, :data:`FAILED`.
"""

from gateway.owed.columns import DONE, FAILED, PENDING, OwedColumns
from gateway.owed.outbox import Outbox
from gateway.owed.sweeps import OWED, Sweeps, keep_sweeping

__all__ = [
    "DONE",
    "FAILED",
    "OWED",
    "PENDING",
    "Outbox",
    "OwedColumns",
    "Sweeps",
    "keep_sweeping",
]
