"""A renderer over the session's installed artefacts, and where rendering tests leave files."""

from __future__ import annotations

from pathlib import Path

import pytest

from gateway.rendering import Renderer

#: Screenshots and PDFs a person can look at after the run (git-ignored).
OUTPUT = Path(__file__).resolve().parents[2] / "test-output" / "rendering"


@pytest.fixture(scope="session")
def renderer(installed_data_dir: Path) -> Renderer:
    return Renderer(installed_data_dir / "artefacts")


@pytest.fixture(scope="session")
def output_dir() -> Path:
    OUTPUT.mkdir(parents=True, exist_ok=True)
    return OUTPUT
