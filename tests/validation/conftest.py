from __future__ import annotations

from pathlib import Path

import pytest

from gateway.validation import Engine


@pytest.fixture(scope="session")
def engine(installed_data_dir: Path) -> Engine:
    """One warm in-process engine for the whole session (compiling XSLT takes seconds)."""
    return Engine(installed_data_dir / "artefacts")
