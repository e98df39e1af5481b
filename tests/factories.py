"""Rows for tests to store: :func:`make_document`."""

from __future__ import annotations

from typing import Any

from gateway.store import Document, new_document_id, repo


def make_document(raw: bytes | str, **fields: Any) -> Document:
    """A :class:`Document` holding ``raw`` (its sha256 and size filled in), accepted, with an
    empty report and metadata: by default received inbound for tenant ``acme`` on a ``test``
    channel. Keyword arguments override any column (``direction="outbound", status="queued"``;
    ``tenant=None``; ``status=None`` for a record whose lifecycle gives the first status)."""
    data = raw.encode() if isinstance(raw, str) else raw
    values: dict[str, Any] = {
        "id": new_document_id(),
        "direction": "inbound",
        "channel": "test",
        "tenant": "acme",
        "status": "received",
        "raw": data,
        "sha256": repo.sha256_hex(data),
        "size": len(data),
        "validation_status": "accepted",
        "report": {},
        "meta": {},
    }
    values.update(fields)
    return Document(**values)
