"""console: browser sessions (hashed tokens) and the date index of the dashboard's aggregates

The dashboard counts documents of the last 30 days by direction, channel, status and day;
``ix_documents_tenant_created`` (tenant, created_at) and ``ix_documents_created`` (every
tenant, for operators) make those counts a range read of 30 days instead of a scan.

Revision ID: 0007_console_sessions
Revises: 0006_edge_mail
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007_console_sessions"
down_revision = "0006_edge_mail"
branch_labels = None
depends_on = None

_TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "console_sessions",
        sa.Column("token_sha256", sa.String(64), primary_key=True),
        sa.Column("key_id", sa.String(32), sa.ForeignKey("api_keys.id"), nullable=False),
        sa.Column("tenant", sa.String(100), nullable=True),
        sa.Column("created_at", _TS, nullable=False),
        sa.Column("last_seen_at", _TS, nullable=False),
        sa.Column("expires_at", _TS, nullable=False),
    )
    op.create_index("ix_console_sessions_key_id", "console_sessions", ["key_id"])
    op.create_index("ix_console_sessions_expires", "console_sessions", ["expires_at"])
    op.create_index("ix_documents_tenant_created", "documents", ["tenant", "created_at"])
    op.create_index("ix_documents_created", "documents", ["created_at"])


def downgrade() -> None:
    op.drop_index("ix_documents_created", "documents")
    op.drop_index("ix_documents_tenant_created", "documents")
    op.drop_table("console_sessions")
