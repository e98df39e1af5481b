"""Fixtures for France tests: real gateways on loopback (see tests/live_gateway.py)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from live_gateway import factory


@pytest.fixture
async def gw_factory(
    tmp_path: Path, validator: Any, aiohttp_server: Any, corpus_dir: Path
) -> AsyncIterator[Any]:
    async with factory(tmp_path, validator, aiohttp_server, corpus_dir) as make:
        yield make
