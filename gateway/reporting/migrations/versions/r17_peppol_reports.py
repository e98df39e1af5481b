"""reporting: stored TSR/EUSR reports and the monthly schedule's claims

Revision ID: r17_peppol_reports
Revises: 0005_lifecycle
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "r17_peppol_reports"
down_revision = "0005_lifecycle"
branch_labels = None
depends_on = None

_TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "peppol_reports",
        sa.Column("id", sa.String(40), primary_key=True),
        sa.Column("kind", sa.String(8), nullable=False),
        sa.Column("month", sa.String(7), nullable=False),
        sa.Column("xml", sa.LargeBinary(), nullable=False),
        sa.Column("valid", sa.Boolean(), nullable=False),
        sa.Column("validation", sa.Text(), nullable=False),
        sa.Column("summary", sa.Text(), nullable=False),
        sa.Column("document_id", sa.String(40)),
        sa.Column("origin", sa.String(16), nullable=False),
        sa.Column("created_at", _TS, nullable=False),
    )
    op.create_index("ix_peppol_reports_month", "peppol_reports", ["month"])
    op.create_table(
        "peppol_report_claims",
        sa.Column("kind", sa.String(8), primary_key=True),
        sa.Column("month", sa.String(7), primary_key=True),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("owner", sa.String(64), nullable=False),
        sa.Column("report_id", sa.String(40)),
        sa.Column("updated_at", _TS, nullable=False),
    )


def downgrade() -> None:
    op.drop_table("peppol_report_claims")
    op.drop_index("ix_peppol_reports_month", "peppol_reports")
    op.drop_table("peppol_reports")
