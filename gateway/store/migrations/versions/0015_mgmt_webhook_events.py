"""Webhook event subscriptions: ``tenants.webhook_events`` (a JSON list of event types, NULL =
every event), set with ``PUT /v1/admin/tenants/{tenant}/webhook`` or ``gateway webhooks set
--event``.

Revision ID: 0015_mgmt_webhook_events
Revises: r13_responses_pending
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0015_mgmt_webhook_events"
down_revision = "r13_responses_pending"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("tenants", sa.Column("webhook_events", sa.JSON(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("tenants") as batch:
        batch.drop_column("webhook_events")
