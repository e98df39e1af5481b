"""Alembic migrations, run programmatically (no alembic.ini needed).

Revisions live in ``gateway/store/migrations/versions``. Other packages add their tables with
revisions in ``<package>/migrations/versions`` (listed in :data:`MIGRATION_PACKAGES`), chained
after ours with ``down_revision``, so ``gateway db upgrade`` applies all of them in order.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import AsyncEngine

#: Packages whose ``migrations/versions`` folder holds revisions of the shared history.
MIGRATION_PACKAGES = [
    "gateway.store",
    "gateway.outbound",
    "gateway.responses",
    "gateway.as4",
    "gateway.lifecycle",
    "gateway.reporting",
    "gateway.console",
    "gateway.france",
]

_HERE = Path(__file__).resolve().parent


def version_locations() -> list[str]:
    out = []
    for name in MIGRATION_PACKAGES:
        try:
            spec = importlib.util.find_spec(name)
        except ModuleNotFoundError:
            continue
        if spec is None or not spec.submodule_search_locations:
            continue
        for base in spec.submodule_search_locations:
            versions = Path(base) / "migrations" / "versions"
            if versions.is_dir():
                out.append(str(versions))
    return out


def alembic_config(connection: Connection | None = None) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(_HERE / "migrations"))
    cfg.set_main_option("version_locations", " ".join(version_locations()))
    cfg.set_main_option("path_separator", "space")
    if connection is not None:
        cfg.attributes["connection"] = connection
    return cfg


def _upgrade(connection: Connection, target: str) -> None:
    command.upgrade(alembic_config(connection), target)


def _pending(connection: Connection) -> list[str]:
    script = ScriptDirectory.from_config(alembic_config())
    current = set(MigrationContext.configure(connection).get_current_heads())
    heads = set(script.get_heads())
    return sorted(heads - current)


async def upgrade(engine: AsyncEngine, target: str = "heads") -> None:
    """Apply migrations up to ``target`` in one transaction (PostgreSQL DDL is transactional),
    Alembic's own: a migration that must run outside any transaction (``CREATE INDEX
    CONCURRENTLY``, which does not block writes on a big PostgreSQL store) uses an autocommit
    block, which commits the migrations before it first (Alembic asserts its own transaction
    there, so the connection is not begun here)."""
    async with engine.connect() as conn:
        await conn.run_sync(_upgrade, target)
        await conn.commit()


async def pending_heads(engine: AsyncEngine) -> list[str]:
    """Heads not yet applied (empty when the schema is current)."""
    async with engine.connect() as conn:
        return await conn.run_sync(_pending)
