"""lifecycle: history names tenant and key; typed webhook events; profiles, drafts, payments

Revision ID: 0005_lifecycle
Revises: 0004_merge
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005_lifecycle"
down_revision = "0004_merge"
branch_labels = None
depends_on = None

_SEQ = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
_TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.add_column("status_history", sa.Column("tenant", sa.String(100), nullable=True))
    op.add_column("status_history", sa.Column("key_id", sa.String(32), nullable=True))
    op.add_column(
        "webhook_deliveries",
        sa.Column("event", sa.String(40), nullable=False, server_default="document.received"),
    )
    op.add_column("webhook_deliveries", sa.Column("payload", sa.JSON(), nullable=True))
    op.create_table(
        "lifecycle_settings",
        sa.Column("tenant", sa.String(100), sa.ForeignKey("tenants.name"), primary_key=True),
        sa.Column("inbound_profile", sa.String(64), nullable=True),
        sa.Column("outbound_profile", sa.String(64), nullable=True),
        sa.Column("webhook_content", sa.Boolean(), nullable=False, server_default=sa.false()),
        sa.Column("updated_at", _TS, nullable=False),
    )
    op.create_table(
        "outbound_drafts",
        sa.Column("document_id", sa.String(40), sa.ForeignKey("documents.id"), primary_key=True),
        sa.Column("tenant", sa.String(100), sa.ForeignKey("tenants.name"), nullable=False),
        sa.Column("receiver", sa.String(300), nullable=False),
        sa.Column("sender", sa.String(300), nullable=False),
        sa.Column("document_type", sa.Text(), nullable=False),
        sa.Column("process", sa.Text(), nullable=False),
        sa.Column("send_at", _TS, nullable=True),
        sa.Column("created_at", _TS, nullable=False),
    )
    op.create_index("ix_outbound_drafts_send_at", "outbound_drafts", ["send_at"])
    op.create_table(
        "payments",
        sa.Column("seq", _SEQ, primary_key=True, autoincrement=True),
        sa.Column("document_id", sa.String(40), sa.ForeignKey("documents.id"), nullable=False),
        sa.Column("amount", sa.String(40), nullable=False),
        sa.Column("paid_on", sa.String(32), nullable=True),
        sa.Column("source", sa.String(32), nullable=False),
        sa.Column("actor", sa.String(200), nullable=True),
        sa.Column("reference", sa.String(200), nullable=True),
        sa.Column("created_at", _TS, nullable=False),
    )
    op.create_index("ix_payments_document_id", "payments", ["document_id"])
    op.create_table(
        "document_links",
        sa.Column("seq", _SEQ, primary_key=True, autoincrement=True),
        sa.Column("document_id", sa.String(40), sa.ForeignKey("documents.id"), nullable=False),
        sa.Column("target_id", sa.String(40), sa.ForeignKey("documents.id"), nullable=False),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("created_at", _TS, nullable=False),
    )
    op.create_index("ix_document_links_document_id", "document_links", ["document_id"])
    op.create_index("ix_document_links_target_id", "document_links", ["target_id"])


def downgrade() -> None:
    op.drop_table("document_links")
    op.drop_table("payments")
    op.drop_table("outbound_drafts")
    op.drop_table("lifecycle_settings")
    with op.batch_alter_table("webhook_deliveries") as batch:
        batch.drop_column("payload")
        batch.drop_column("event")
    # status_history keeps its two columns: its rows are append-only (triggers refuse rewrites).
