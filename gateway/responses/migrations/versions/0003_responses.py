"""invoice responses: invoice_responses (received/sent T111, state, details), per-tenant settings

Revision ID: 0003_responses
Revises: 0002_outbound
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003_responses"
down_revision = "0002_outbound"
branch_labels = None
depends_on = None

_SEQ = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
_TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "invoice_responses",
        sa.Column("seq", _SEQ, primary_key=True, autoincrement=True),
        sa.Column("direction", sa.String(8), nullable=False),
        sa.Column("document_id", sa.String(40), sa.ForeignKey("documents.id"), unique=True),
        sa.Column("tenant", sa.String(100), nullable=True),
        sa.Column("imr_id", sa.String(200), nullable=False),
        sa.Column("sender", sa.String(300), nullable=True),
        sa.Column("receiver", sa.String(300), nullable=True),
        sa.Column("dedupe_key", sa.String(64), nullable=True, unique=True),
        sa.Column("referenced_id", sa.String(200), nullable=True),
        sa.Column("referenced_type_code", sa.String(8), nullable=True),
        sa.Column("response_code", sa.String(8), nullable=True),
        sa.Column("partial", sa.Boolean(), nullable=False),
        sa.Column("status", sa.String(32), nullable=True),
        sa.Column("invoice_id", sa.String(40), sa.ForeignKey("documents.id"), nullable=True),
        sa.Column("state", sa.String(20), nullable=False),
        sa.Column("detail", sa.Text(), nullable=True),
        sa.Column("issue_date", sa.String(32), nullable=True),
        sa.Column("issue_time", sa.String(32), nullable=True),
        sa.Column("details", sa.JSON(), nullable=False),
        sa.Column("created_at", _TS, nullable=False),
        sa.Column("updated_at", _TS, nullable=False),
    )
    op.create_index("ix_invoice_responses_tenant", "invoice_responses", ["tenant"])
    op.create_index("ix_invoice_responses_referenced_id", "invoice_responses", ["referenced_id"])
    op.create_index("ix_invoice_responses_invoice_id", "invoice_responses", ["invoice_id"])
    op.create_index("ix_invoice_responses_state", "invoice_responses", ["state", "seq"])
    op.create_index("ix_documents_dir_number", "documents", ["direction", "number"])
    op.create_table(
        "invoice_response_settings",
        sa.Column("tenant", sa.String(100), sa.ForeignKey("tenants.name"), primary_key=True),
        sa.Column("emit_responses", sa.Boolean(), nullable=False),
        sa.Column("updated_at", _TS, nullable=False),
    )


def downgrade() -> None:
    op.drop_table("invoice_response_settings")
    op.drop_index("ix_documents_dir_number", table_name="documents")
    op.drop_index("ix_invoice_responses_state", table_name="invoice_responses")
    op.drop_index("ix_invoice_responses_invoice_id", table_name="invoice_responses")
    op.drop_index("ix_invoice_responses_referenced_id", table_name="invoice_responses")
    op.drop_index("ix_invoice_responses_tenant", table_name="invoice_responses")
    op.drop_table("invoice_responses")
