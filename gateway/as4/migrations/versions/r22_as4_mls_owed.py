"""as4: the MLS outbox on the owed-work helper (a lease and an attempt count per owed MLS)

``as4_mls_outbox`` becomes a :mod:`gateway.owed` table: ``attempts`` and ``lease_until`` join
the columns it had, and the state index becomes the sweep's ``(state, created_at)`` lookup.
Rows on record keep their states (``queued`` and ``skipped`` are the outbox's outcomes; a
``pending`` row is paid by the recovery pass at the next start).

Revision ID: r22_as4_mls_owed
Revises: r21_response_owed
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "r22_as4_mls_owed"
down_revision = "r21_response_owed"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.drop_index("ix_as4_mls_outbox_state", table_name="as4_mls_outbox")
    with op.batch_alter_table("as4_mls_outbox") as batch:
        batch.add_column(sa.Column("attempts", sa.Integer(), nullable=False, server_default="0"))
        batch.add_column(sa.Column("lease_until", sa.DateTime(timezone=True), nullable=True))
    op.create_index("ix_as4_mls_outbox_due", "as4_mls_outbox", ["state", "created_at"])


def downgrade() -> None:
    op.drop_index("ix_as4_mls_outbox_due", table_name="as4_mls_outbox")
    with op.batch_alter_table("as4_mls_outbox") as batch:
        batch.drop_column("lease_until")
        batch.drop_column("attempts")
    op.create_index("ix_as4_mls_outbox_state", "as4_mls_outbox", ["state"])
