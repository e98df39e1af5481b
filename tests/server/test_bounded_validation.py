"""Bounded validation through a real gateway on loopback (issue 14 item 1): a document that
uses up its deadline gets ``validation-timeout`` - 422 over REST (nothing stored), stored as
invalid with that validation status from SMTP (the reply says so) - and ``/health`` tells the
truth about starting and dead workers.
"""

from __future__ import annotations

import asyncio
import os
import signal
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from sqlalchemy import select

from gateway.inbound import CallerGone, SmtpChannel, Submission
from gateway.server.app import create_app
from gateway.store import Document, repo
from gateway.validation import Bounds, Validator
from gateway.web import DB, INTAKE, SETTINGS
from tests.api_gateway import gateway_settings
from tests.inbound.email.mailbuild import attach, new_mail, send, wire
from tests.validation import payloads
from tests.validation.payloads import warm_up

DEADLINE = payloads.HOSTILE_DEADLINE
HOSTILE = payloads.HOSTILE


@pytest.fixture(scope="module")
def bounded_validator(installed_data_dir: Path) -> Iterator[Validator]:
    bounds = Bounds(timeout=DEADLINE, timeout_per_mb=0.0)
    validator = Validator(installed_data_dir / "artefacts", jobs=2, warm=False, bounds=bounds)
    warm_up(validator)  # both workers compile before the clock runs
    yield validator
    validator.close()


@pytest.fixture
async def served(
    tmp_path: Path, bounded_validator: Validator, aiohttp_server: Any
) -> AsyncIterator[tuple[Any, str, aiohttp.ClientSession]]:
    settings = gateway_settings(tmp_path, smtp={"host": "127.0.0.1", "port": 0})
    app = create_app(settings, validator=bounded_validator)
    server = await aiohttp_server(app, host="127.0.0.1", port=0)
    async with aiohttp.ClientSession() as http:
        yield app, str(server.make_url("")).rstrip("/"), http


async def _key(app: Any) -> str:
    async with app[DB].write() as s:
        _, key = await repo.create_api_key(s, "acme", ("submit", "read"))
    return key


async def test_rest_answers_422_validation_timeout_and_stores_nothing(served: Any) -> None:
    app, url, http = served
    auth = {"Authorization": f"Bearer {await _key(app)}", "Content-Type": "application/xml"}
    async with http.post(url + "/v1/documents", data=payloads.base_example(), headers=auth) as r:
        assert r.status == 201  # warms a worker (compiling is never charged to a document)
    started = time.monotonic()
    async with http.post(url + "/v1/documents", data=HOSTILE, headers=auth) as r:
        body = await r.json(content_type=None)
        assert r.status == 422, body
        assert r.headers["Content-Type"].startswith("application/problem+json")
    elapsed = time.monotonic() - started
    assert body["code"] == "validation-timeout"
    assert body["validation"]["findings"][0]["rule"] == "VALIDATION-TIMEOUT"
    assert elapsed < DEADLINE + 20, elapsed  # generous: the machine is shared
    async with http.get(url + "/v1/documents", headers=auth) as r:
        assert len((await r.json())["items"]) == 1  # only the warm-up invoice
    async with http.get(url + "/health") as r:
        health = await r.json()
    assert health["validation"]["restarts"]["timeout"] >= 1


async def test_a_sender_that_hangs_up_stops_its_validation(
    served: Any, bounded_validator: Validator
) -> None:
    """The intake polls ``caller_gone`` (REST sets it from the connection) while the document
    is validated; once it is true the request is cancelled, the pool stops the worker, and
    nothing is stored."""
    app = served[0]
    await asyncio.to_thread(warm_up, bounded_validator)  # a killed worker's replacement is cold
    before = bounded_validator.health()["restarts"]["cancelled"]
    bounded_validator.bounds = Bounds(timeout=300.0, cancel_after=0.5)
    gone = False
    sub = Submission(HOSTILE, "api", "acme", caller_gone=lambda: gone)
    try:
        submitted = asyncio.ensure_future(app[INTAKE].submit(sub, refuse_unparseable=True))
        deadline = time.monotonic() + 60
        while bounded_validator.health()["longest_busy_seconds"] < 0.2:  # validating now
            assert time.monotonic() < deadline and not submitted.done()
            await asyncio.sleep(0.05)
        gone = True
        with pytest.raises(CallerGone):
            await submitted
        hung_up = time.monotonic()
        while bounded_validator.health()["restarts"]["cancelled"] == before:
            assert time.monotonic() - hung_up < 20, bounded_validator.health()
            await asyncio.sleep(0.05)
    finally:
        bounded_validator.bounds = Bounds(timeout=DEADLINE, timeout_per_mb=0.0)
    async with app[DB].read() as s:
        assert (await s.scalars(select(Document))).all() == []  # nothing stored


async def test_smtp_stores_invalid_with_validation_timeout_and_says_so(served: Any) -> None:
    app, _, _ = served
    channel = SmtpChannel(app[SETTINGS], app[INTAKE])
    await channel.start()
    try:
        msg = new_mail("Hostile")
        attach(msg, HOSTILE, "notes.xml")
        started = time.monotonic()
        code, text = await send(channel.port, wire(msg))
        elapsed = time.monotonic() - started
    finally:
        await channel.stop()
    assert code == 250, text
    assert b"(invalid: validation-timeout)" in text
    assert elapsed < DEADLINE + 30, elapsed
    async with app[DB].read() as s:
        doc = (await s.scalars(select(Document).where(Document.channel == "email"))).one()
    assert doc.status == "invalid" and doc.validation_status == "validation-timeout"
    assert doc.status_reason.startswith("validation-timeout: validation did not finish")
    assert doc.number == "Snippet1"  # identified although not validated


async def test_health_reports_starting_and_dead_workers(
    tmp_path: Path, installed_data_dir: Path, aiohttp_server: Any
) -> None:
    validator = Validator(installed_data_dir / "artefacts", jobs=1, warm=False)
    try:
        app = create_app(gateway_settings(tmp_path), validator=validator)
        server = await aiohttp_server(app, host="127.0.0.1", port=0)
        url = str(server.make_url("")).rstrip("/")
        async with aiohttp.ClientSession() as http:

            async def health() -> tuple[int, dict[str, Any]]:
                async with http.get(url + "/health") as r:
                    return r.status, await r.json()

            status, body = await health()
            if body["validation"]["workers"][0]["state"] == "starting":  # almost always
                assert status == 503 and body["checks"]["validator"].startswith("no worker ready")
            deadline = time.monotonic() + 120
            while (await health())[0] != 200:
                assert time.monotonic() < deadline
                await asyncio.sleep(0.1)
            async with http.get(url + "/health/live") as r:
                assert r.status == 200
            pid = (await health())[1]["validation"]["workers"][0]["pid"]
            os.kill(pid, signal.SIGKILL)
            deadline = time.monotonic() + 10
            while (body := (await health())[1])["validation"]["workers"][0]["pid"] == pid and body[
                "validation"
            ]["workers"][0]["state"] != "dead":
                assert time.monotonic() < deadline
                await asyncio.sleep(0.02)
            status, body = await health()
            assert status == 503, body  # dead, or its replacement still starting
            assert body["checks"]["validator"].startswith("no worker ready")
            assert body["validation"]["restarts"]["died"] == 1
            async with http.get(url + "/health/live") as r:
                assert r.status == 200  # alive, just not ready
    finally:
        validator.close()
