"""Real invoices from ../shared/corpus and mail/PDF builders for the e-mail channel tests."""

from __future__ import annotations

from pathlib import Path

import pytest

CIUS = "xrechnung-testsuite/technical-cases/cius"


@pytest.fixture(scope="session")
def ubl_bytes(corpus_dir: Path) -> bytes:
    return (corpus_dir / "peppol-bis-examples/base-example.xml").read_bytes()


@pytest.fixture(scope="session")
def ubl2_bytes(corpus_dir: Path) -> bytes:
    return (corpus_dir / f"{CIUS}/01.05_minimal_test_ubl.xml").read_bytes()


@pytest.fixture(scope="session")
def cii_bytes(corpus_dir: Path) -> bytes:
    return (corpus_dir / f"{CIUS}/01.06_minimal_test_uncefact.xml").read_bytes()
