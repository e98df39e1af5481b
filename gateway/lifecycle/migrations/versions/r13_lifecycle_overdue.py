"""lifecycle: overdue is a condition with notices (an index, a cursor, one row per episode)

Revision ID: r13_lifecycle_overdue
Revises: 0007_console_sessions
"""

from __future__ import annotations

import datetime as dt

import sqlalchemy as sa
from alembic import op

revision = "r13_lifecycle_overdue"
down_revision = "0007_console_sessions"
branch_labels = None
depends_on = None

_SEQ = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
_TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    # The overdue timer reads the documents that fell due since its cursor, in (due date, seq)
    # order: an index range, never all outbound documents.
    op.create_index("ix_documents_due", "documents", ["due_date", "seq"])
    op.create_table(
        "overdue_notices",
        sa.Column("seq", _SEQ, primary_key=True, autoincrement=True),
        sa.Column("document_id", sa.String(40), sa.ForeignKey("documents.id"), nullable=False),
        sa.Column("episode", sa.String(40), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("source", sa.String(32), nullable=False),
        sa.Column("at", _TS, nullable=False),
        sa.UniqueConstraint("document_id", "episode", name="uq_overdue_notices"),
    )
    timers = op.create_table(
        "lifecycle_timers",
        sa.Column("name", sa.String(40), primary_key=True),
        sa.Column("cursor_date", sa.String(32), nullable=False),
        sa.Column("cursor_seq", _SEQ, nullable=False),
        sa.Column("updated_at", _TS, nullable=False),
    )
    # The row exists from the start, so two processes lock it instead of racing to insert it.
    op.bulk_insert(
        timers,
        [
            {
                "name": "overdue",
                "cursor_date": "",
                "cursor_seq": 0,
                "updated_at": dt.datetime.now(dt.UTC),
            }
        ],
    )


def downgrade() -> None:
    op.drop_table("lifecycle_timers")
    op.drop_table("overdue_notices")
    op.drop_index("ix_documents_due", table_name="documents")
