"""Alembic environment: always called with a connection from :mod:`gateway.store.migrate`."""

from __future__ import annotations

from alembic import context

import gateway.store.models  # noqa: F401  (registers the tables on Base.metadata)
from gateway.store.db import Base

connection = context.config.attributes.get("connection")
if connection is None:  # pragma: no cover - only reachable via the alembic CLI
    raise RuntimeError("run migrations with `gateway db upgrade`")

context.configure(
    connection=connection,
    target_metadata=Base.metadata,
    render_as_batch=connection.dialect.name == "sqlite",
    compare_type=True,
)
with context.begin_transaction():
    context.run_migrations()
