"""What a move is asked with and what listeners are told (plain values, no behaviour)."""

from __future__ import annotations

from dataclasses import dataclass

from gateway.lifecycle.vocabulary import SYSTEM


@dataclass(frozen=True)
class Cause:
    """Who or what asks for a move, as the history row will name it.

    ``source`` is the history's "from what" (api, admin, outbound, webhook, inbox, mls,
    invoice-response, timer, ...), ``role`` what the model checks (system, api, admin,
    counterpart), ``tenant`` and ``key_id`` the tenant and API key that caused it (not
    necessarily the document's tenant), ``actor`` a name shown to people.
    """

    source: str
    role: str = SYSTEM
    actor: str | None = None
    tenant: str | None = None
    key_id: str | None = None


@dataclass(frozen=True)
class Moved:
    """One committed-with-the-transaction move, as listeners and the event sink see it."""

    document_id: str
    tenant: str | None
    direction: str
    kind: str | None
    previous: str | None
    status: str
    cause: Cause
    reason: str | None


@dataclass(frozen=True)
class BulkMove:
    """One move of :meth:`Lifecycle.move_many`: made only if the document is still ``expect``."""

    document_id: str
    expect: str
    to: str
    reason: str | None = None
