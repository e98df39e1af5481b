"""The Flow API against AFNOR's own OpenAPI description (XP Z12-013 flow-service 1.3.0):
schemathesis on a real loopback server, from the description the gateway serves (AFNOR's file,
checked against its pinned sha256, with our server URL). No 5xx; every status code, content
type and body as the standard describes them, with real flows in the store (a valid French
invoice, an invalid one, a CDAR) so searches return flows."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests

from gateway.config import load_settings
from gateway.france.flow import BASE_PATH, FLOW_TYPES, upstream
from gateway.france.flow.api import ACK_STATUSES, PROFILES, RULES, SYNTAXES
from gateway.server import create_app
from gateway.store import repo
from gateway.web import DB
from tests.french_invoices import french_invoice
from tests.live_server import LiveServer, fuzz

SPEC = "design/france/xp-z12-013-flow-service-1.3.0.openapi.json"


@pytest.fixture
def live(tmp_path: Path, validator: Any, shared_dir: Path) -> Iterator[LiveServer]:
    settings = load_settings(
        env={},
        overrides={
            "data_dir": str(tmp_path),
            "france": {"flow_openapi": str(shared_dir / SPEC)},
            # Generated callback URLs are not resolved (the guard has its own test).
            "webhooks": {"allow_private_destinations": True},
        },
    )
    server = LiveServer(create_app(settings, validator=validator)).start()
    yield server
    server.stop()


def _key(live: LiveServer, tenant: str, scopes: list[str]) -> str:
    async def make() -> str:
        async with live.app[DB].write() as s:
            _, key = await repo.create_api_key(s, tenant, scopes)
        return key

    return live.call(make())


def _flow(live: LiveServer, key: str, raw: bytes, info: str) -> requests.Response:
    return requests.post(
        f"{live.url}{BASE_PATH}/v1/flows",
        headers={"Authorization": f"Bearer {key}"},
        files={
            "flowInfo": (None, info, "application/json"),
            "file": ("f.xml", raw, "application/xml"),
        },
        timeout=120,
    )


def test_the_standards_enumerations_are_the_ones_checked(shared_dir: Path) -> None:
    schemas = upstream(str(shared_dir / SPEC))["components"]["schemas"]
    assert tuple(schemas["FlowType"]["enum"]) == FLOW_TYPES
    assert tuple(schemas["FlowSyntax"]["enum"]) == SYNTAXES
    assert tuple(schemas["FlowProfile"]["enum"]) == PROFILES
    assert tuple(schemas["ProcessingRule"]["enum"]) == RULES
    assert tuple(schemas["FlowAckStatus"]["enum"]) == ACK_STATUSES


def test_schemathesis_against_the_afnor_description(
    live: LiveServer, corpus_dir: Path, tmp_path: Path, shared_dir: Path
) -> None:
    key = _key(live, "acme", ["submit", "read", "admin"])
    good = french_invoice(corpus_dir, "ubl", number="FUZZ-1")
    bad = french_invoice(corpus_dir, "cii", number="FUZZ-2", rate="21")
    cdar = next((corpus_dir / "france-cdar").glob("UC1_*-CDV-204_*.xml")).read_bytes()
    for raw, syntax in ((good, "UBL"), (bad, "CII"), (cdar, "CDAR")):
        resp = _flow(live, key, raw, f'{{"name": "seed", "flowSyntax": "{syntax}"}}')
        assert resp.status_code == 202, resp.text

    served = requests.get(f"{live.url}{BASE_PATH}/openapi.json", timeout=30)  # no key needed
    assert served.status_code == 200
    doc = served.json()
    assert doc["servers"] == [{"url": live.url + BASE_PATH, "description": "einvoice-gateway"}]
    assert doc["info"]["title"] == "AFNOR Flow Service"
    oauth = doc["components"]["securitySchemes"]["OAuth2"]["flows"]["clientCredentials"]
    assert oauth["tokenUrl"] == f"{live.url}{BASE_PATH}/oauth2/token"
    ours = requests.get(f"{live.url}/v1/openapi.json", timeout=30).json()
    assert not [p for p in ours["paths"] if p.startswith(BASE_PATH)]

    headers = {"Authorization": f"Bearer {key}"}
    ran = fuzz(doc, live.url + BASE_PATH, headers, lambda op: True, 45, max_examples=10)
    assert ran == len([m for p in doc["paths"].values() for m in p])


def test_a_description_that_is_not_the_pinned_file_is_not_served(
    tmp_path: Path, validator: Any, shared_dir: Path
) -> None:
    changed = tmp_path / "flow.json"
    shutil.copy(shared_dir / SPEC, changed)
    changed.write_bytes(changed.read_bytes().replace(b"AFNOR Flow Service", b"AFNOR Flow Servic3"))
    settings = load_settings(
        env={},
        overrides={"data_dir": str(tmp_path / "d"), "france": {"flow_openapi": str(changed)}},
    )
    server = LiveServer(create_app(settings, validator=validator)).start()
    try:
        resp = requests.get(f"{server.url}{BASE_PATH}/openapi.json", timeout=30)
        assert resp.status_code == 404 and resp.json()["errorCode"] == "NO_DESCRIPTION"
        assert "pinned" in resp.json()["errorMessage"]
    finally:
        server.stop()
