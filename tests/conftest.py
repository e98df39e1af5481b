"""Shared fixtures: paths to ../shared, an installed artefact data dir, optional PostgreSQL.

Tests read real documents and artefacts from ``../shared`` (never copies in the repo). The
artefacts are installed once per test session with the gateway's own installer, exactly as an
operator would, into a temporary data directory.
"""

from __future__ import annotations

import asyncio
import logging
import os
import re
import secrets
import uuid
from collections.abc import AsyncIterator, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import asynccontextmanager
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


@pytest.fixture(params=["sqlite", "postgresql"])
def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """The test runs twice: on a SQLite file in tmp, and on a new PostgreSQL database (skipped
    without ``GATEWAY_TEST_POSTGRES_URL``) that several gateways of the test may share."""
    if request.param == "sqlite":
        return f"sqlite+aiosqlite:///{tmp_path / 'gateway.db'}"
    return str(request.getfixturevalue("pg_database"))


@pytest.fixture
async def gw_factory(
    tmp_path: Path, validator: Any, aiohttp_server: Any, corpus_dir: Path
) -> AsyncIterator[Any]:
    """Real gateways on loopback on demand (``await gw_factory(**responses_settings)``,
    ``settings=`` for other sections; see tests/live_gateway.py), stopped after the test."""
    from tests.live_gateway import factory

    async with factory(tmp_path, validator, aiohttp_server, corpus_dir) as make:
        yield make


@asynccontextmanager
async def _fresh_database(postgres_url: str) -> AsyncIterator[str]:
    from sqlalchemy import text
    from sqlalchemy.engine import make_url
    from sqlalchemy.ext.asyncio import create_async_engine

    name = f"gw_test_{secrets.token_hex(4)}"
    admin = create_async_engine(postgres_url, isolation_level="AUTOCOMMIT")
    async with admin.connect() as conn:
        await conn.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield make_url(postgres_url).set(database=name).render_as_string(hide_password=False)
    finally:
        async with admin.connect() as conn:
            await conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        await admin.dispose()


@pytest.fixture
def pg_databases(postgres_url: str) -> Any:
    """``async with pg_databases() as url``: a new, empty database, dropped afterwards (for
    fixtures that choose the database at run time)."""
    return lambda: _fresh_database(postgres_url)


# --- every log line of the test session, checked for key material ---------------------------

#: A whole API key (``gw_<12 hex>_<43 url-safe>``) or a bearer credential of any shape.
KEY_MATERIAL = re.compile(r"gw_[0-9a-f]{12}_[A-Za-z0-9_-]{20,}|Bearer\s+[A-Za-z0-9._~+/=-]{20,}")


class SessionLog(logging.Handler):
    """Writes every record of the session (formatted as the gateway's JSON lines, tracebacks
    included) to one file, so the suite can prove no log it produced holds a key."""

    def __init__(self, path: Path) -> None:
        super().__init__(logging.DEBUG)
        from gateway.observability import JsonFormatter

        self.path = path
        self.setFormatter(JsonFormatter())
        self._file = path.open("a", encoding="utf-8", errors="backslashreplace")

    def emit(self, record: logging.LogRecord) -> None:
        try:
            self._file.write(self.format(record) + "\n")
            self._file.flush()
        except Exception:  # a log handler must never fail the code that logs
            self.handleError(record)

    def lines_since(self, offset: int) -> list[str]:
        with self.path.open(encoding="utf-8", errors="backslashreplace") as f:
            f.seek(offset)
            return f.read().splitlines()

    def offset(self) -> int:
        return self.path.stat().st_size

    def close(self) -> None:
        self._file.close()
        super().close()


_SESSION_LOG: SessionLog | None = None


def pytest_sessionstart(session: pytest.Session) -> None:
    global _SESSION_LOG
    import tempfile

    path = Path(tempfile.mkdtemp(prefix="gateway-test-logs-")) / "session.log"
    path.touch()
    _SESSION_LOG = SessionLog(path)
    root = logging.getLogger()
    root.addHandler(_SESSION_LOG)
    # INFO so access logs and channel logs are produced (and checked); SQL echo stays off.
    if root.level > logging.INFO or root.level == logging.NOTSET:
        root.setLevel(logging.INFO)
    logging.getLogger("sqlalchemy").setLevel(logging.WARNING)


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    if _SESSION_LOG is None:
        return
    logging.getLogger().removeHandler(_SESSION_LOG)
    _SESSION_LOG.close()
    leaks = [line for line in _SESSION_LOG.lines_since(0) if KEY_MATERIAL.search(line)]
    if leaks:
        print(f"\nKEY MATERIAL IN LOGS ({len(leaks)} line(s)); first: {leaks[0][:300]}")
        session.exitstatus = pytest.ExitCode.TESTS_FAILED


@pytest.fixture
def session_log() -> SessionLog:
    """The session's log file (see :class:`SessionLog`): ``lines_since(offset())``."""
    assert _SESSION_LOG is not None
    return _SESSION_LOG
