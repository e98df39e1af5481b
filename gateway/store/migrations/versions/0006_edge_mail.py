"""Bytes stored once: content-addressed blobs, inbound messages, attachment rows without data.

A 2.75 MB mail with 50 broken XML parts added 238 MB to the database, because every document
carried its own copy of the raw mail and of every attachment. Now attachment rows reference
``blobs`` by sha256 (older rows keep their inline ``data``), and ``inbound_messages`` records
each received mail once with the documents it produced.

Revision ID: 0006_edge_mail
Revises: r17_as4_mls_outbox
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006_edge_mail"
down_revision = "r17_as4_mls_outbox"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "blobs",
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("size", sa.BigInteger(), nullable=False),
        sa.Column("data", sa.LargeBinary(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("sha256"),
    )
    op.create_table(
        "inbound_messages",
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("channel", sa.String(length=32), nullable=False),
        sa.Column("size", sa.BigInteger(), nullable=False),
        sa.Column("documents", sa.JSON(), nullable=False),
        sa.Column("metadata", sa.JSON(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("sha256"),
    )
    with op.batch_alter_table("attachments", schema=None) as batch_op:
        batch_op.alter_column("data", existing_type=sa.LargeBinary(), nullable=True)


def downgrade() -> None:
    op.execute(
        "UPDATE attachments SET data = "
        "(SELECT data FROM blobs WHERE blobs.sha256 = attachments.sha256) WHERE data IS NULL"
    )
    with op.batch_alter_table("attachments", schema=None) as batch_op:
        batch_op.alter_column("data", existing_type=sa.LargeBinary(), nullable=False)
    op.drop_table("inbound_messages")
    op.drop_table("blobs")
