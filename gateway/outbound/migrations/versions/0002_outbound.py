"""outbound queue: outbound_items (lease, retries, idempotency) and outbound_attempts

Revision ID: 0002_outbound
Revises: 0001_store
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002_outbound"
down_revision = "0001_store"
branch_labels = None
depends_on = None

_SEQ = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
_TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "outbound_items",
        sa.Column("document_id", sa.String(40), sa.ForeignKey("documents.id"), primary_key=True),
        sa.Column("tenant", sa.String(100), sa.ForeignKey("tenants.name"), nullable=False),
        sa.Column("message_id", sa.String(100), nullable=False, unique=True),
        sa.Column("idempotency_key", sa.String(200), nullable=True),
        sa.Column("sender", sa.String(300), nullable=False),
        sa.Column("receiver", sa.String(300), nullable=False),
        sa.Column("document_type", sa.Text(), nullable=False),
        sa.Column("process", sa.Text(), nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("total_attempts", sa.Integer(), nullable=False),
        sa.Column("next_attempt_at", _TS, nullable=False),
        sa.Column("lease_owner", sa.String(100), nullable=True),
        sa.Column("lease_until", _TS, nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("last_error_code", sa.String(64), nullable=True),
        sa.Column("endpoint", sa.Text(), nullable=True),
        sa.Column("queued_at", _TS, nullable=False),
        sa.Column("created_at", _TS, nullable=False),
        sa.Column("delivered_at", _TS, nullable=True),
        sa.UniqueConstraint("tenant", "idempotency_key", name="uq_outbound_idempotency"),
    )
    op.create_index("ix_outbound_due", "outbound_items", ["state", "next_attempt_at"])
    op.create_index("ix_outbound_receiver_state", "outbound_items", ["receiver", "state"])
    op.create_table(
        "outbound_attempts",
        sa.Column("seq", _SEQ, primary_key=True, autoincrement=True),
        sa.Column("document_id", sa.String(40), sa.ForeignKey("documents.id"), nullable=False),
        sa.Column("number", sa.Integer(), nullable=False),
        sa.Column("worker", sa.String(100), nullable=True),
        sa.Column("started_at", _TS, nullable=False),
        sa.Column("duration_ms", sa.Float(), nullable=False),
        sa.Column("endpoint", sa.Text(), nullable=True),
        sa.Column("transport", sa.String(32), nullable=True),
        sa.Column("outcome", sa.String(16), nullable=False),
        sa.Column("status_code", sa.Integer(), nullable=True),
        sa.Column("error_code", sa.String(64), nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
    )
    op.create_index("ix_outbound_attempts_document_id", "outbound_attempts", ["document_id"])


def downgrade() -> None:
    op.drop_index("ix_outbound_attempts_document_id", table_name="outbound_attempts")
    op.drop_table("outbound_attempts")
    op.drop_index("ix_outbound_receiver_state", table_name="outbound_items")
    op.drop_index("ix_outbound_due", table_name="outbound_items")
    op.drop_table("outbound_items")
