"""Content-addressed bytes: :func:`put_blob` stores a content once, whoever stores it again.

Why: one mail used to add every attachment and the raw message to the database once per
document it produced (50 broken XML parts in a 2.75 MB mail: 238 MB), and once more per SMTP
retry. Keyed by SHA-256, the same bytes are one row, so storing is idempotent by construction;
``INSERT ... ON CONFLICT DO NOTHING`` keeps that true when two processes store the same bytes
at the same moment (PostgreSQL waits for the first and then does nothing).
"""

from __future__ import annotations

import hashlib
from typing import Any

from sqlalchemy import select
from sqlalchemy.dialects import postgresql, sqlite

from gateway.store.models import Blob, utcnow

_INSERT = {"postgresql": postgresql.insert, "sqlite": sqlite.insert}


async def put_blob(session: Any, data: bytes) -> str:
    """Store ``data`` unless a blob with its hash exists; returns the hash."""
    sha = hashlib.sha256(data).hexdigest()
    insert = _INSERT[session.bind.dialect.name](Blob)
    await session.execute(
        insert.values(
            sha256=sha, size=len(data), data=data, created_at=utcnow()
        ).on_conflict_do_nothing(index_elements=["sha256"])
    )
    return sha


async def get_blob(session: Any, sha256: str) -> bytes | None:
    return await session.scalar(select(Blob.data).where(Blob.sha256 == sha256))
