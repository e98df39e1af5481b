"""``GET /v1/documents/{id}/rendering`` on a real gateway on loopback."""

from __future__ import annotations

import io
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from pypdf import PdfReader

from gateway.config import load_settings
from gateway.server import create_app
from gateway.store import repo
from gateway.web import DB

XR = "xrechnung-testsuite/business-cases/standard/"


@pytest.fixture
async def served(
    tmp_path: Path, installed_data_dir: Path, validator: Any, aiohttp_server: Any
) -> AsyncIterator[tuple[str, aiohttp.ClientSession, Any]]:
    data = tmp_path / "data"
    data.mkdir()
    (data / "artefacts").symlink_to((installed_data_dir / "artefacts").resolve())
    settings = load_settings(env={}, overrides={"data_dir": str(data)})
    app = create_app(settings, validator=validator)
    server = await aiohttp_server(app, host="127.0.0.1", port=0)
    async with aiohttp.ClientSession() as http:
        yield str(server.make_url("")).rstrip("/"), http, app


async def _key(app: Any, tenant: str) -> dict[str, str]:
    async with app[DB].write() as s:
        _, key = await repo.create_api_key(s, tenant, ("submit", "read"))
    return {"Authorization": f"Bearer {key}"}


async def test_rendering_route(served: Any, corpus_dir: Path) -> None:
    url, http, app = served
    acme, other = await _key(app, "acme"), await _key(app, "other")
    raw = (corpus_dir / XR / "01.01a-INVOICE_uncefact.xml").read_bytes()
    async with http.post(
        url + "/v1/documents", data=raw, headers=acme | {"Content-Type": "application/xml"}
    ) as resp:
        assert resp.status == 201, await resp.text()
        doc_id = (await resp.json())["id"]
    path = f"{url}/v1/documents/{doc_id}/rendering"

    async with http.get(path + "?lang=en", headers=acme) as resp:
        assert resp.status == 200
        assert resp.content_type == "text/html"
        assert "sandbox" in resp.headers["Content-Security-Policy"]
        assert resp.headers["Content-Disposition"] == 'inline; filename="123456XX.html"'
        page = await resp.text()
        assert "123456XX" in page and "Invoice number" in page

    async with http.get(path + "?format=pdf", headers=acme) as resp:
        assert resp.status == 200 and resp.content_type == "application/pdf"
        reader = PdfReader(io.BytesIO(await resp.read()))
        text = "".join(page.extract_text() for page in reader.pages)
        assert "123456XX" in text

    for query, status, code in [
        ("?format=docx", 400, "invalid-parameter"),
        ("?lang=fr", 400, "invalid-parameter"),
        ("?colour=red", 400, "unknown-parameter"),
    ]:
        async with http.get(path + query, headers=acme) as resp:
            assert resp.status == status
            assert (await resp.json())["code"] == code
    async with http.get(path, headers=other) as resp:  # another tenant's id leaks nothing
        assert resp.status == 404
    async with http.get(path) as resp:
        assert resp.status == 401


async def test_an_invoice_response_is_not_renderable(served: Any, corpus_dir: Path) -> None:
    url, http, app = served
    acme = await _key(app, "acme")
    raw = (corpus_dir / "peppol-invoice-response/InvoiceResponse_Example.xml").read_bytes()
    async with http.post(
        url + "/v1/documents", data=raw, headers=acme | {"Content-Type": "application/xml"}
    ) as resp:
        assert resp.status == 201, await resp.text()
        doc_id = (await resp.json())["id"]
    async with http.get(f"{url}/v1/documents/{doc_id}/rendering", headers=acme) as resp:
        assert resp.status == 415
        body = await resp.json()
        assert body["code"] == "unsupported-document"
        assert "ApplicationResponse" in body["detail"]
