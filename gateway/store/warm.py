"""Read the indexes every new document reaches at a random place, once, after a start.

Why: each new document's duplicate check looks up its claims (``document_claims``' primary
key, by hash) and its insert goes into the ``documents.sha256`` index, both at a random place.
On a big store whose pages are not in the OS page cache - the first minutes after a restart -
each of those is a disk read: on a 1M-document SQLite store 16 claim lookups took 15-23 ms cold
against 0.3 ms warm, and ingest ran at 0.60x the empty store's rate cold, 1.00x with these two
indexes read once (1-2 s; measured with ``bench/ingest.py``, 2026-12-01). A server that has
been running holds them in the cache anyway; this makes a restarted one hold them from the
start.

How: in the background, in key order, a chunk of :data:`CHUNK` index entries per statement
(each on the async read engine, so the loop never waits for the disk and a stop cancels
between chunks). Only the index entries are read (the statements select indexed columns), the
same pages the lookups walk.
"""

from __future__ import annotations

import logging
import time
from typing import Any

from sqlalchemy import text

log = logging.getLogger(__name__)

#: Index entries per statement: ~50-100 ms of reading on the shared VM, so a stop waits no
#: longer than that.
CHUNK = 20_000

#: (name, first key, the key ``:n`` entries after the last one). The row-value comparison
#: walks the claims' primary key in order on SQLite and PostgreSQL alike; every statement is
#: a range search of its index (``tests/store/test_query_plans.py`` sees them, the server
#: starts this while it serves).
_INDEXES = (
    (
        "document_claims",
        "SELECT tenant, direction, kind, value FROM document_claims WHERE tenant >= '' "
        "ORDER BY tenant, direction, kind, value LIMIT 1",
        "SELECT tenant, direction, kind, value FROM document_claims "
        "WHERE (tenant, direction, kind, value) > (:t, :d, :k, :v) "
        "ORDER BY tenant, direction, kind, value LIMIT 1 OFFSET :n",
    ),
    (
        "documents.sha256",
        "SELECT sha256 FROM documents WHERE sha256 >= '' ORDER BY sha256 LIMIT 1",
        "SELECT sha256 FROM documents WHERE sha256 > :t ORDER BY sha256 LIMIT 1 OFFSET :n",
    ),
)


async def warm_indexes(db: Any, chunk: int = CHUNK) -> dict[str, int]:
    """Walk each index of :data:`_INDEXES` once; returns the statements (chunks of ``chunk``
    entries) each took: 0 for an empty table, ``size // chunk + 1`` otherwise."""
    read: dict[str, int] = {}
    for name, first, step in _INDEXES:
        async with db.read() as s:
            key = (await s.execute(text(first))).first()
        chunks = 0
        while key is not None:
            params: dict[str, Any] = dict(zip(("t", "d", "k", "v"), key, strict=False))
            async with db.read() as s:
                key = (await s.execute(text(step), {**params, "n": chunk - 1})).first()
            chunks += 1
        read[name] = chunks
    return read


async def warm_in_background(db: Any) -> None:
    """:func:`warm_indexes` for a server's start: logged, never raising (a store that cannot
    be read fails the requests that need it, with their own errors)."""
    started = time.perf_counter()
    try:
        read = await warm_indexes(db)
    except Exception:
        log.warning("reading the store's indexes after start failed", exc_info=True)
        return
    log.info(
        "store indexes read",
        extra={"chunks": read, "chunk": CHUNK, "seconds": round(time.perf_counter() - started, 2)},
    )
