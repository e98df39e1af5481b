"""france: webhook subscriptions of the AFNOR Flow API (afnor_webhooks)

Revision ID: f20_afnor_webhooks
Revises: r17_as4_c4_sources
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "f20_afnor_webhooks"
down_revision = "r17_as4_c4_sources"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "afnor_webhooks",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("tenant", sa.String(100), sa.ForeignKey("tenants.name"), nullable=False),
        sa.Column("callback_url", sa.Text(), nullable=False),
        sa.Column("flow_types", sa.JSON(), nullable=True),
        sa.Column("flow_direction", sa.String(8), nullable=True),
        sa.Column("ack_status", sa.String(8), nullable=True),
        sa.Column("signing_key", sa.String(128), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_afnor_webhooks_tenant", "afnor_webhooks", ["tenant"])


def downgrade() -> None:
    op.drop_index("ix_afnor_webhooks_tenant", table_name="afnor_webhooks")
    op.drop_table("afnor_webhooks")
