"""Fixtures: the revocation test PKI and a live OCSP responder + CRL server on loopback."""

from __future__ import annotations

from typing import Any

import pytest

from tests.revocation.revocation_support import (
    Clock,
    Responder,
    RevocationPki,
    free_port,
    make_revocation_pki,
)


@pytest.fixture(scope="session")
def rv_port() -> int:
    return free_port()


@pytest.fixture(scope="session")
def rv_pki(rv_port: int) -> RevocationPki:
    return make_revocation_pki(rv_port)


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
async def responder(
    aiohttp_server: Any, rv_pki: RevocationPki, rv_port: int, clock: Clock
) -> Responder:
    state = Responder(rv_pki, clock, revoked={rv_pki.revoked.cert.serial_number})
    state.revoked.add(rv_pki.receiver_revoked.cert.serial_number)
    state.ocsp_unknown.add(rv_pki.unknown.cert.serial_number)
    await aiohttp_server(state.app(), host="127.0.0.1", port=rv_port)
    return state
