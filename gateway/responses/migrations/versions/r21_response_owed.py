"""responses: the Invoice Responses owed, written with the move that calls for them

A tenant's status change of a purchase invoice that sends an Invoice Response writes a row
here in the move's transaction; the gateway pays it after the commit, or the recovery pass
after a crash (``gateway.owed``).

Revision ID: r21_response_owed
Revises: f20_flow_search_index
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "r21_response_owed"
down_revision = "f20_flow_search_index"
branch_labels = None
depends_on = None

_TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "invoice_response_owed",
        sa.Column("key", sa.String(200), primary_key=True),
        sa.Column("document_id", sa.String(36), sa.ForeignKey("documents.id"), nullable=False),
        sa.Column("tenant", sa.String(100), nullable=True),
        sa.Column("status", sa.String(32), nullable=False),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column("actor", sa.String(200), nullable=True),
        sa.Column("key_id", sa.String(32), nullable=True),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("created_at", _TS, nullable=False),
        sa.Column("lease_until", _TS, nullable=True),
        sa.Column("settled_at", _TS, nullable=True),
    )
    op.create_index(
        "ix_invoice_response_owed_document_id", "invoice_response_owed", ["document_id"]
    )
    op.create_index(
        "ix_invoice_response_owed_state", "invoice_response_owed", ["state", "created_at"]
    )


def downgrade() -> None:
    op.drop_index("ix_invoice_response_owed_state", table_name="invoice_response_owed")
    op.drop_index("ix_invoice_response_owed_document_id", table_name="invoice_response_owed")
    op.drop_table("invoice_response_owed")
