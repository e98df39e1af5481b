"""france: the CDAR owed, written with the move that calls for it (cdar_owed)

Revision ID: f20_cdar_owed
Revises: f20_afnor_webhooks
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "f20_cdar_owed"
down_revision = "f20_afnor_webhooks"
branch_labels = None
depends_on = None

_TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "cdar_owed",
        sa.Column("key", sa.String(200), primary_key=True),
        sa.Column("document_id", sa.String(36), sa.ForeignKey("documents.id"), nullable=False),
        sa.Column("tenant", sa.String(100), nullable=True),
        sa.Column("code", sa.String(8), nullable=False),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column("actor", sa.String(200), nullable=True),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("created_at", _TS, nullable=False),
        sa.Column("lease_until", _TS, nullable=True),
        sa.Column("settled_at", _TS, nullable=True),
    )
    op.create_index("ix_cdar_owed_document_id", "cdar_owed", ["document_id"])
    op.create_index("ix_cdar_owed_state", "cdar_owed", ["state", "created_at"])


def downgrade() -> None:
    op.drop_index("ix_cdar_owed_state", table_name="cdar_owed")
    op.drop_index("ix_cdar_owed_document_id", table_name="cdar_owed")
    op.drop_table("cdar_owed")
