"""responses: pending rows for stored responses; per-tenant e-mail trust

A received Invoice Response gets its ``invoice_responses`` row (state ``pending``) in the
transaction that stores it, so the recovery after a crash reads the state index instead of
scanning documents. Responses already stored without a row get one here (once). The tenant's
trusted e-mail senders move from config into ``invoice_response_settings.email_trust``.

Revision ID: r13_responses_pending
Revises: r13_lifecycle_overdue
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "r13_responses_pending"
down_revision = "r13_lifecycle_overdue"
branch_labels = None
depends_on = None

IMR = "urn:fdc:peppol.eu:poacc:trns:invoice_response:3"


def upgrade() -> None:
    op.add_column("invoice_response_settings", sa.Column("email_trust", sa.JSON(), nullable=True))
    op.execute(
        sa.text(
            "INSERT INTO invoice_responses "
            "(direction, document_id, tenant, imr_id, partial, state, details, created_at, "
            "updated_at) "
            "SELECT 'received', d.id, d.tenant, COALESCE(d.number, ''), :no, 'pending', :empty, "
            "CURRENT_TIMESTAMP, CURRENT_TIMESTAMP FROM documents d "
            "WHERE d.direction = 'inbound' AND d.customization_id = :imr "
            "AND d.validation_status = 'accepted' AND d.status IN ('received', 'forwarded') "
            "AND d.tenant IS NOT NULL "
            "AND NOT EXISTS (SELECT 1 FROM invoice_responses r WHERE r.document_id = d.id)"
        ).bindparams(
            sa.bindparam("no", False, type_=sa.Boolean()),
            sa.bindparam("empty", {}, type_=sa.JSON()),
            imr=IMR,
        )
    )


def downgrade() -> None:
    op.execute(sa.text("DELETE FROM invoice_responses WHERE state = 'pending'"))
    with op.batch_alter_table("invoice_response_settings") as batch:
        batch.drop_column("email_trust")
