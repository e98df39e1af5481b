"""One JSON log line per document status change, written once the move has committed.

A listener of the lifecycle (:meth:`gateway.lifecycle.Lifecycle.on_move`, plugged in by the
app factory): it collects the moves of a transaction and logs them after the commit, so a
rolled-back move is never reported and a batch of the outbound queue costs no extra query.
The line names the document, its tenant and direction, ``from``/``to``, the source, the actor,
and the tenant and key that caused it (the key id, never the key); never the document.
"""

from __future__ import annotations

import logging
from typing import Any

from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncSession

from gateway.lifecycle import Moved

log = logging.getLogger("gateway.lifecycle.status")
_PENDING = "gateway.status_log.pending"


def _facts(moved: Moved) -> dict[str, Any]:
    return {
        "document_id": moved.document_id,
        "tenant": moved.tenant,
        "direction": moved.direction,
        "from": moved.previous,
        "to": moved.status,
        "source": moved.cause.source,
        "actor": moved.cause.actor,
        "by_tenant": moved.cause.tenant,
        "key_id": moved.cause.key_id,
        "reason": (moved.reason or "")[:200] or None,
    }


async def log_status_change(session: AsyncSession, moved: Moved) -> None:
    """Queue ``moved``'s log line until ``session`` commits (dropped if it rolls back)."""
    pending: list[dict[str, Any]] | None = session.info.get(_PENDING)
    if pending is None:
        pending = session.info[_PENDING] = []
        sync = session.sync_session
        event.listen(sync, "after_commit", _flush, once=True)
        event.listen(sync, "after_rollback", _drop, once=True)
    pending.append(_facts(moved))


def _flush(sync_session: Any) -> None:
    for facts in sync_session.info.pop(_PENDING, []):
        log.info("status changed", extra=facts)


def _drop(sync_session: Any) -> None:
    sync_session.info.pop(_PENDING, None)
