"""france: the Flow API's search reads a tenant's documents by last update (an index)

``POST /afnor/flow-service/v1/flows/search`` orders a tenant's documents by ``updated_at``
then ``seq`` and goes on from a cursor on both: without this index every search sorted all of
the tenant's documents.

Revision ID: f20_flow_search_index
Revises: f20_cdar_owed
"""

from __future__ import annotations

from alembic import op

revision = "f20_flow_search_index"
down_revision = "f20_cdar_owed"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_documents_tenant_updated_seq", "documents", ["tenant", "updated_at", "seq"])


def downgrade() -> None:
    op.drop_index("ix_documents_tenant_updated_seq", table_name="documents")
