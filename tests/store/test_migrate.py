"""The migration history (every feature's ``migrations/versions``, one alembic history)."""

from __future__ import annotations

from alembic.script import ScriptDirectory

from gateway.store.migrate import alembic_config


def test_migration_history_has_one_head() -> None:
    """Each feature's migration points at the head it was written against, so the order in
    which they run is one someone chose (two heads would run in an order nobody checked)."""
    assert len(ScriptDirectory.from_config(alembic_config()).get_heads()) == 1
