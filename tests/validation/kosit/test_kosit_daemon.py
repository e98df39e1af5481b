"""The KoSIT daemon contract on a real server on loopback: every status code, health, config."""

from __future__ import annotations

import asyncio
import os
import socket
import subprocess
import sys
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp.test_utils import TestServer
from lxml import etree

from gateway.validation import Validator
from gateway.validation.kosit import load_config
from gateway.validation.kosit.daemon import make_app
from tests.conftest import CORPUS

GOOD = CORPUS / "xrechnung-testsuite" / "business-cases" / "standard" / "01.01a-INVOICE_ubl.xml"
REP = "{http://www.xoev.de/de/validator/varl/1}"


@pytest.fixture(scope="module")
def kosit_validator(kosit_config_dir: Path, installed_data_dir: Path) -> Any:
    """In-process (the session's one validation thread), so no worker start per test."""
    v = Validator(installed_data_dir / "artefacts", jobs=0, kosit_config=kosit_config_dir)
    yield v
    v.close()


@pytest.fixture
async def base(kosit_config_dir: Path, kosit_validator: Any) -> AsyncIterator[str]:
    app = make_app(load_config(kosit_config_dir), kosit_validator, max_bytes=2_000_000)
    server = TestServer(app, host="127.0.0.1")
    await server.start_server()
    yield str(server.make_url(""))
    await server.close()


async def _post(url: str, data: bytes, **kw: Any) -> tuple[int, str, str]:
    async with aiohttp.ClientSession() as s, s.post(url, data=data, **kw) as r:
        return r.status, r.content_type, await r.text()


async def test_acceptable_is_200_with_the_report_named_after_the_path(base: str) -> None:
    status, ctype, body = await _post(f"{base}/some/path/invoice-1.xml?x=1", GOOD.read_bytes())
    assert (status, ctype) == (200, "application/xml")
    varl = etree.fromstring(body.encode())
    assert varl.findtext(f"{REP}documentIdentification/{REP}documentReference") == "invoice-1.xml"
    assert varl.find(f"{REP}assessment/{REP}accept") is not None


async def test_not_acceptable_is_406(base: str) -> None:
    bad = GOOD.read_bytes().replace(b"<cbc:ID>", b"<cbc:ID>X", 1)
    bad = bad.replace(
        b"urn:cen.eu:en16931:2017#compliant#urn:xeinkauf.de:kosit:xrechnung_3.0",
        b"urn:cen.eu:en16931:2017#compliant#urn:xeinkauf.de:kosit:xrechnung_3.0",
        1,
    )
    bad = bad.replace(b"<cbc:InvoiceTypeCode>380", b"<cbc:InvoiceTypeCode>999", 1)
    status, _, body = await _post(f"{base}/bad.xml", bad)
    assert status == 406
    assert etree.fromstring(body.encode()).find(f"{REP}assessment/{REP}reject") is not None
    # no scenario matched: processed, not acceptable
    status, _, body = await _post(f"{base}/note.xml", b"<note xmlns='urn:x'/>")
    assert status == 406 and "noScenarioMatched" in body


async def test_root_path_gets_a_generated_name(base: str) -> None:
    status, _, body = await _post(f"{base}/", GOOD.read_bytes())
    assert status == 200 and "<rep:documentReference>supplied_instance_" in body


async def test_empty_body_is_400(base: str) -> None:
    assert (await _post(f"{base}/x.xml", b""))[0] == 400


async def test_multipart_is_400(base: str) -> None:
    form = aiohttp.FormData()
    form.add_field("file", GOOD.read_bytes(), filename="a.xml")
    async with aiohttp.ClientSession() as s, s.post(f"{base}/x.xml", data=form) as r:
        assert r.status == 400


async def test_not_processable_is_422_with_the_no_scenario_report(base: str) -> None:
    for data in (b"<Invoice><unclosed></Invoice>", b"%PDF-1.7 binary"):
        status, ctype, body = await _post(f"{base}/broken.xml", data)
        assert (status, ctype) == (422, "application/xml")
        assert "noScenarioMatched" in body


async def test_other_methods_are_405(base: str) -> None:
    async with aiohttp.ClientSession() as s:
        for method in ("PUT", "DELETE", "PATCH"):
            async with s.request(method, f"{base}/x.xml", data=b"<a/>") as r:
                assert r.status == 405
        async with s.get(f"{base}/x.xml") as r:
            assert r.status == 405


async def test_health_config_and_usage(base: str, kosit_config_dir: Path) -> None:
    async with aiohttp.ClientSession() as s:
        async with s.get(f"{base}/server/health") as r:
            assert r.status == 200
            health = etree.fromstring(await r.read())
        ns = "{http://www.xoev.de/de/validator/framework/1/daemon}"
        assert health.findtext(f"{ns}status") == "UP"
        assert int(health.findtext(f"{ns}memory/{ns}totalMemory")) > 0
        async with s.get(f"{base}/server/config") as r:
            assert r.status == 200
            assert await r.read() == (kosit_config_dir / "scenarios.xml").read_bytes()
        async with s.get(f"{base}/") as r:
            assert r.status == 200 and "POST an XML document" in await r.text()


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


async def test_the_cli_daemon_on_its_worker_pool(
    kosit_config_dir: Path, installed_data_dir: Path
) -> None:
    """``gateway validate --daemon`` as a user starts it: one worker process, real port."""
    port = _free_port()
    env = {**os.environ, "GATEWAY_DATA_DIR": str(installed_data_dir)}
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "gateway",
            "validate",
            "--daemon",
            "--kosit-config",
            str(kosit_config_dir),
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--jobs",
            "1",
        ],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        base = f"http://127.0.0.1:{port}"
        async with aiohttp.ClientSession() as s:
            deadline = time.monotonic() + 240
            while True:
                try:
                    async with s.get(f"{base}/server/health") as r:
                        if r.status == 200:
                            break
                except aiohttp.ClientConnectionError:
                    if proc.poll() is not None or time.monotonic() > deadline:
                        err = proc.stderr.read().decode() if proc.stderr else ""
                        raise AssertionError(err) from None
                    await asyncio.sleep(0.5)
            async with s.post(f"{base}/good.xml", data=GOOD.read_bytes()) as r:
                assert r.status == 200
            async with s.post(f"{base}/broken.xml", data=b"<a>") as r:
                assert r.status == 422
    finally:
        proc.terminate()
        proc.wait(timeout=30)
