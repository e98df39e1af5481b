"""france: the Flow API's search reads a tenant's documents by last update (an index)

``POST /afnor/flow-service/v1/flows/search`` orders a tenant's documents by ``updated_at``
then ``seq`` and goes on from a cursor on both: without this index every search sorted all of
the tenant's documents.

On PostgreSQL the index is built ``CONCURRENTLY``: a plain CREATE INDEX holds a lock that
blocks every write to ``documents`` (every intake, every status move) for as long as the build
takes on a big store. CONCURRENTLY cannot run in a transaction, so it runs in an autocommit
block (the migrations before it are committed first); ``IF NOT EXISTS`` lets an operator who
built it by hand beforehand upgrade without a conflict. (A build that fails half-way leaves an
INVALID index: drop it and upgrade again.) SQLite builds it plainly (one writer at a time
anyway).

Revision ID: f20_flow_search_index
Revises: f20_cdar_owed
"""

from __future__ import annotations

from alembic import op

revision = "f20_flow_search_index"
down_revision = "f20_cdar_owed"
branch_labels = None
depends_on = None

INDEX, TABLE, COLUMNS = (
    "ix_documents_tenant_updated_seq",
    "documents",
    ["tenant", "updated_at", "seq"],
)


def upgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        op.create_index(INDEX, TABLE, COLUMNS)
        return
    with op.get_context().autocommit_block():
        op.create_index(INDEX, TABLE, COLUMNS, postgresql_concurrently=True, if_not_exists=True)


def downgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        op.drop_index(INDEX, table_name=TABLE)
        return
    with op.get_context().autocommit_block():
        op.drop_index(INDEX, table_name=TABLE, postgresql_concurrently=True, if_exists=True)
