"""as4: the MLS outbox (owed MLS survive a crash)

Revision ID: r17_as4_mls_outbox
Revises: r17_peppol_reports
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "r17_as4_mls_outbox"
down_revision = "r17_peppol_reports"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "as4_mls_outbox",
        sa.Column("instance_key", sa.String(700), primary_key=True),
        sa.Column("message_id", sa.String(300), nullable=False),
        sa.Column("tenant", sa.String(100), nullable=False),
        sa.Column("sender", sa.String(300), nullable=False),
        sa.Column("instance_id", sa.String(300), nullable=False),
        sa.Column("mls_to", sa.String(300), nullable=False),
        sa.Column("mls_type", sa.String(32), nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("settled_at", sa.DateTime(timezone=True)),
    )
    op.create_index("ix_as4_mls_outbox_state", "as4_mls_outbox", ["state"])


def downgrade() -> None:
    op.drop_index("ix_as4_mls_outbox_state", "as4_mls_outbox")
    op.drop_table("as4_mls_outbox")
