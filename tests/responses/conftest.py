"""Fixtures for Invoice Response tests: a real gateway per test (see tests/live_gateway.py).

Helpers are reached through the ``imr`` fixture (importing another folder's conftest by name
picks the wrong one), so every test module here only asks for fixtures.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from tests.live_gateway import IMR_DIR, Gw, Stub, sales_invoice, settings_for, start_stub

__all__ = ["Gw", "Stub", "sales_invoice", "settings_for"]


@pytest.fixture
def imr_files(corpus_dir: Path) -> list[Path]:
    return sorted((corpus_dir / IMR_DIR).rglob("*.xml"))


@pytest.fixture
async def webhook_stub() -> AsyncIterator[Stub]:
    stub = Stub()
    runner = await start_stub(stub)
    yield stub
    await runner.cleanup()


@pytest.fixture
def make_invoice() -> Any:
    return sales_invoice
