"""as4: how each C4 was determined, and the receiving end users' registered countries

Revision ID: r17_as4_c4_sources
Revises: f20_cdar_statuses
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "r17_as4_c4_sources"
down_revision = "f20_cdar_statuses"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("peppol_reporting") as batch:
        batch.add_column(
            sa.Column("c4_source", sa.String(16), nullable=False, server_default="unknown")
        )
    # Rows written before: a two-letter C4 came from the buyer address or [as4] country (which
    # one is no longer known), anything else is unknown.
    op.execute("UPDATE peppol_reporting SET c4_source = 'document' WHERE length(country_c4) = 2")
    op.create_table(
        "peppol_end_user_countries",
        sa.Column("tenant", sa.String(100), primary_key=True),
        sa.Column("participant", sa.String(300), primary_key=True),
        sa.Column("country", sa.String(2), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("peppol_end_user_countries")
    with op.batch_alter_table("peppol_reporting") as batch:
        batch.drop_column("c4_source")
