"""A lazy pool (``gateway serve`` without ``[validation] warm``) starts workers for work only.

Issue 18 item 5: an idle gateway holds no worker process; the first document starts one, and
a second worker starts only when a document waits that the first cannot take.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import aiohttp

from gateway.config import load_settings
from gateway.server import create_app
from gateway.validation import Validator
from tests.api_gateway import gateway_settings
from tests.validation import payloads


def test_no_worker_until_a_document_then_one_per_waiting_document(
    installed_data_dir: Path,
) -> None:
    with Validator(installed_data_dir / "artefacts", jobs=2, warm=False, lazy=True) as pool:
        health = pool.health()
        assert health["workers"] == [] and health["lazy"] and pool.pids() == []
        assert pool.alive()  # nothing started is nothing dead
        first = pool.validate_sync(payloads.base_example())
        assert first.accepted, first.findings
        assert [w["documents"] for w in pool.health()["workers"]] == [1]  # one was enough
        reports = pool.map([(payloads.base_example(), None)] * 6)
        assert all(r.accepted for r in reports)
        workers = pool.health()["workers"]
        assert len(workers) == 2 and sum(w["documents"] for w in workers) == 7
        assert len(pool.pids()) == 2 and pool.alive()


def test_serve_is_lazy_unless_scenarios_are_warmed(installed_data_dir: Path) -> None:
    overrides = {"data_dir": str(installed_data_dir), "validation": {"jobs": 1}}
    settings = load_settings(None, env={}, overrides=overrides)
    with Validator.from_settings(settings) as pool:
        assert pool.lazy and pool.health()["workers"] == []
    settings.validation.warm = ["peppol-bis3-invoice"]
    with Validator.from_settings(settings) as pool:
        assert not pool.lazy and len(pool.health()["workers"]) == 1


async def test_health_is_ready_before_the_first_worker(
    tmp_path: Path, installed_data_dir: Path, aiohttp_server: Any
) -> None:
    validator = Validator(installed_data_dir / "artefacts", jobs=1, warm=False, lazy=True)
    try:
        app = create_app(gateway_settings(tmp_path), validator=validator)
        server = await aiohttp_server(app, host="127.0.0.1", port=0)
        async with aiohttp.ClientSession() as http:
            async with http.get(str(server.make_url("/health"))) as r:
                body = await r.json()
                assert r.status == 200, body
            assert body["checks"]["validator"] == "ok" and body["validation"]["workers"] == []
    finally:
        validator.close()
