"""as4: duplicate elimination, stable outbound identity, Peppol reporting rows

Revision ID: 0003_as4
Revises: 0002_outbound
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003_as4"
down_revision = "0002_outbound"
branch_labels = None
depends_on = None

_SEQ = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
_TS = sa.DateTime(timezone=True)


def _doc() -> sa.ForeignKey:
    return sa.ForeignKey("documents.id")


def upgrade() -> None:
    op.create_table(
        "as4_inbound_messages",
        sa.Column("message_id", sa.String(300), primary_key=True),
        sa.Column("instance_key", sa.String(700), nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("claim_owner", sa.String(100), nullable=True),
        sa.Column("claimed_at", _TS, nullable=False),
        sa.Column("document_id", sa.String(40), _doc(), nullable=True),
        sa.Column("receipt", sa.LargeBinary(), nullable=True),
        sa.Column("from_party", sa.String(300), nullable=False),
        sa.Column("created_at", _TS, nullable=False),
    )
    op.create_index(
        "ix_as4_inbound_messages_instance_key", "as4_inbound_messages", ["instance_key"]
    )
    op.create_table(
        "as4_inbound_instances",
        sa.Column("instance_key", sa.String(700), primary_key=True),
        sa.Column("message_id", sa.String(300), nullable=False),
        sa.Column("document_id", sa.String(40), _doc(), nullable=True),
        sa.Column("created_at", _TS, nullable=False),
    )
    op.create_table(
        "as4_outbound",
        sa.Column("document_id", sa.String(40), _doc(), primary_key=True),
        sa.Column("message_id", sa.String(300), nullable=False, unique=True),
        sa.Column("instance_id", sa.String(200), nullable=False, unique=True),
        sa.Column("sbd", sa.LargeBinary(), nullable=False),
        sa.Column("receiver_party", sa.String(300), nullable=False),
        sa.Column("receipt", sa.LargeBinary(), nullable=True),
        sa.Column("created_at", _TS, nullable=False),
        sa.Column("delivered_at", _TS, nullable=True),
    )
    op.create_table(
        "peppol_reporting",
        sa.Column("seq", _SEQ, primary_key=True, autoincrement=True),
        sa.Column("direction", sa.String(16), nullable=False),
        sa.Column("tenant", sa.String(100), nullable=True),
        sa.Column("document_id", sa.String(40), nullable=True),
        sa.Column("message_id", sa.String(300), nullable=False),
        sa.Column("exchanged_at", _TS, nullable=False),
        sa.Column("sender_ap", sa.String(100), nullable=False),
        sa.Column("receiver_ap", sa.String(100), nullable=False),
        sa.Column("sender", sa.String(300), nullable=False),
        sa.Column("receiver", sa.String(300), nullable=False),
        sa.Column("document_type_id", sa.Text(), nullable=False),
        sa.Column("process_id", sa.Text(), nullable=False),
        sa.Column("country_c1", sa.String(8), nullable=False),
        sa.Column("country_c4", sa.String(8), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
    )
    op.create_index("ix_peppol_reporting_at", "peppol_reporting", ["exchanged_at"])


def downgrade() -> None:
    op.drop_index("ix_peppol_reporting_at", table_name="peppol_reporting")
    op.drop_table("peppol_reporting")
    op.drop_table("as4_outbound")
    op.drop_table("as4_inbound_instances")
    op.drop_index("ix_as4_inbound_messages_instance_key", table_name="as4_inbound_messages")
    op.drop_table("as4_inbound_messages")
