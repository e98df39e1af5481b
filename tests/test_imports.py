"""Every module imports on its own (no import cycles that only work in a lucky order)."""

from __future__ import annotations

import pkgutil
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor

import gateway


def _modules() -> list[str]:
    """Every sub-package (its public surface) plus every module that registers routes/commands."""
    return sorted(
        m.name
        for m in pkgutil.walk_packages(gateway.__path__, "gateway.")
        if ".migrations" not in m.name
        and (m.ispkg or m.name.rsplit(".", 1)[1] in {"api", "cli", "app", "routes", "web"})
    )


def test_each_module_imports_alone() -> None:
    mods = _modules()
    assert len(mods) > 15

    def check(name: str) -> tuple[str, int, str]:
        res = subprocess.run(
            [sys.executable, "-c", f"import {name}"], capture_output=True, text=True, timeout=120
        )
        return (
            name,
            res.returncode,
            res.stderr.strip().splitlines()[-1:] and res.stderr.strip().splitlines()[-1],
        )

    with ThreadPoolExecutor(max_workers=4) as pool:
        failures = [(n, err) for n, rc, err in pool.map(check, mods) if rc != 0]
    assert not failures, failures


def test_migration_history_has_one_head() -> None:
    from alembic.script import ScriptDirectory

    from gateway.store.migrate import alembic_config

    assert len(ScriptDirectory.from_config(alembic_config()).get_heads()) == 1
