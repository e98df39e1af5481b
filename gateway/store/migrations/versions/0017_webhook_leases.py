"""Webhook deliveries are claimed before they are sent: ``webhook_deliveries.lease_owner`` and
``lease_until`` (the process sending one and until when, gateway.forwarding.claims), so two
gateways on one database no longer both POST a pending delivery.

Revision ID: 0017_webhook_leases
Revises: 0016_lz4_toast
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0017_webhook_leases"
down_revision = "0016_lz4_toast"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("webhook_deliveries", sa.Column("lease_owner", sa.String(100), nullable=True))
    op.add_column(
        "webhook_deliveries", sa.Column("lease_until", sa.DateTime(timezone=True), nullable=True)
    )


def downgrade() -> None:
    with op.batch_alter_table("webhook_deliveries") as batch:
        batch.drop_column("lease_until")
        batch.drop_column("lease_owner")
