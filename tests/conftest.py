"""Shared fixtures: paths to ../shared, an installed artefact data dir, optional PostgreSQL.

Tests read real documents and artefacts from ``../shared`` (never copies in the repo). The
artefacts are installed once per test session with the gateway's own installer, exactly as an
operator would, into a temporary data directory.
"""

from __future__ import annotations

import asyncio
import os
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parent.parent
SHARED = Path(os.environ.get("GATEWAY_SHARED_DIR", ROOT.parent / "shared")).resolve()
CORPUS = SHARED / "corpus"
ARTEFACTS_SOURCE = SHARED / "artefacts"


#: Variables that steer the test run itself, not the gateway under test.
_TEST_ENV = {"GATEWAY_TEST_POSTGRES_URL", "GATEWAY_SHARED_DIR"}


@pytest.fixture(scope="session", autouse=True)
def hermetic_environment() -> None:
    """Drop the developer's GATEWAY_* settings: environment wins over config files, so a stray
    GATEWAY_DATA_DIR would silently point the tests' gateways (and their subprocesses) at it."""
    for name in [n for n in os.environ if n.startswith("GATEWAY_") and n not in _TEST_ENV]:
        del os.environ[name]


@pytest.fixture(scope="session")
def shared_dir() -> Path:
    if not SHARED.is_dir():
        pytest.fail(f"../shared not found at {SHARED} (set GATEWAY_SHARED_DIR)")
    return SHARED


@pytest.fixture(scope="session")
def corpus_dir(shared_dir: Path) -> Path:
    return shared_dir / "corpus"


@pytest.fixture(scope="session")
def installed_data_dir(tmp_path_factory: pytest.TempPathFactory, shared_dir: Path) -> Path:
    """A gateway data directory with every artefact installed from ../shared/artefacts."""
    from gateway.artefacts import install_artefacts

    data_dir = tmp_path_factory.mktemp("gateway-data")
    install_artefacts(str(shared_dir / "artefacts"), data_dir / "artefacts")
    return data_dir


@pytest.fixture(scope="session")
def validator(installed_data_dir: Path) -> Iterator[Any]:
    """One in-process validator for the whole session, shared by every test folder.

    In-process validators all run on the process's single validation thread with one Saxon
    processor (see gateway.validation.pool), so sharing one instance costs nothing and keeps
    compiled stylesheets warm across folders.
    """
    from gateway.validation import Validator

    shared = Validator(installed_data_dir / "artefacts", jobs=0)
    yield shared
    shared.close()


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str]:
    """URL of a fresh PostgreSQL database for multi-instance tests (``.ci/run`` starts a server).

    Each test session creates its own database on the server named by
    ``GATEWAY_TEST_POSTGRES_URL`` and drops it afterwards: a shared server then never mixes
    schemas of different checkouts (another branch's migrations) or rows of earlier runs."""
    url = os.environ.get("GATEWAY_TEST_POSTGRES_URL")
    if not url:
        pytest.skip("GATEWAY_TEST_POSTGRES_URL not set (bash .ci/run starts a PostgreSQL)")
    name = f"gw_test_{uuid.uuid4().hex[:16]}"
    _pg_admin(url, f'CREATE DATABASE "{name}"')
    yield f"{url.rsplit('/', 1)[0]}/{name}"
    _pg_admin(url, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def _pg_admin(url: str, statement: str) -> None:
    """Run one statement on the server's maintenance database (in a thread of its own: the
    fixture may be set up while a test's event loop is running)."""
    import asyncpg

    async def run() -> None:
        conn = await asyncpg.connect(url.replace("postgresql+asyncpg://", "postgresql://", 1))
        try:
            await conn.execute(statement)
        finally:
            await conn.close()

    with ThreadPoolExecutor(1) as pool:
        pool.submit(asyncio.run, run()).result()


@pytest.fixture
def pg_database(postgres_url: str) -> Iterator[str]:
    """A new, empty database per test on the same server (dropped afterwards), for tests that
    run once on SQLite and once on PostgreSQL and must not share rows between the two runs."""
    name = f"gw_test_{uuid.uuid4().hex[:16]}"
    _pg_admin(postgres_url, f'CREATE DATABASE "{name}"')
    yield f"{postgres_url.rsplit('/', 1)[0]}/{name}"
    _pg_admin(postgres_url, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
