"""france: CDAR lifecycle messages received and sent (cdar_statuses)

Revision ID: f20_cdar_statuses
Revises: 0015_mgmt_webhook_events
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "f20_cdar_statuses"
down_revision = "0015_mgmt_webhook_events"
branch_labels = None
depends_on = None

_SEQ = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
_TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "cdar_statuses",
        sa.Column("seq", _SEQ, primary_key=True, autoincrement=True),
        sa.Column("direction", sa.String(8), nullable=False),
        sa.Column("document_id", sa.String(40), sa.ForeignKey("documents.id"), nullable=True),
        sa.Column("tenant", sa.String(100), nullable=True),
        sa.Column("message_id", sa.String(200), nullable=False),
        sa.Column("sender", sa.String(300), nullable=True),
        sa.Column("receiver", sa.String(300), nullable=True),
        sa.Column("dedupe_key", sa.String(64), nullable=True, unique=True),
        sa.Column("referenced_id", sa.String(200), nullable=True),
        sa.Column("referenced_issue_date", sa.String(32), nullable=True),
        sa.Column("code", sa.String(8), nullable=True),
        sa.Column("sales_status", sa.String(32), nullable=True),
        sa.Column("invoice_id", sa.String(40), sa.ForeignKey("documents.id"), nullable=True),
        sa.Column("state", sa.String(20), nullable=False),
        sa.Column("detail", sa.Text(), nullable=True),
        sa.Column("details", sa.JSON(), nullable=False),
        sa.Column("created_at", _TS, nullable=False),
        sa.Column("updated_at", _TS, nullable=False),
    )
    op.create_index("ix_cdar_statuses_document_id", "cdar_statuses", ["document_id"])
    op.create_index("ix_cdar_statuses_tenant", "cdar_statuses", ["tenant"])
    op.create_index("ix_cdar_statuses_referenced_id", "cdar_statuses", ["referenced_id"])
    op.create_index("ix_cdar_statuses_invoice_id", "cdar_statuses", ["invoice_id"])
    op.create_index("ix_cdar_statuses_state", "cdar_statuses", ["state", "seq"])


def downgrade() -> None:
    op.drop_table("cdar_statuses")
