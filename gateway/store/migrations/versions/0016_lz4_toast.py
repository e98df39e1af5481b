"""PostgreSQL compresses the large values (raw documents, reports, blobs) with LZ4, not pglz.

Why: at ingest speed PostgreSQL's own CPU was 1.9 ms a document (bench/ingest.py, 32 clients,
the suite's files, 97 KB on average), much of it pglz compressing the TOASTed raw bytes; with
LZ4 it was 1.2 ms, and the same run stored 262 instead of 222 docs/s. Only new values are
compressed the new way (old ones stay readable as they are), so the change is instant at any
store size. Skipped where the server was built without LZ4 (and on SQLite, which has no TOAST).

Revision ID: 0016_lz4_toast
Revises: r22_as4_mls_owed
"""

from __future__ import annotations

import logging

from alembic import op
from sqlalchemy.exc import DBAPIError

revision = "0016_lz4_toast"
down_revision = "r22_as4_mls_owed"
branch_labels = None
depends_on = None

log = logging.getLogger(__name__)

#: The columns that hold large values, by table.
LARGE = {
    "documents": ("raw", "report", "metadata"),
    "attachments": ("data",),
    "blobs": ("data",),
}


def upgrade() -> None:
    _set("lz4")


def downgrade() -> None:
    _set("pglz")


def _set(method: str) -> None:
    bind = op.get_bind()
    if bind.dialect.name != "postgresql":
        return
    try:
        with bind.begin_nested():
            for table, columns in LARGE.items():
                for column in columns:
                    bind.exec_driver_sql(
                        f'ALTER TABLE "{table}" ALTER COLUMN "{column}" SET COMPRESSION {method}'
                    )
    except DBAPIError as exc:  # e.g. "compression method lz4 not supported"
        log.warning("large columns keep PostgreSQL's default compression: %s", exc)
