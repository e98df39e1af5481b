"""``gateway serve`` as a real process: env configuration, CLI keys, /health, /metrics, SIGTERM."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

import pytest

XR = "xrechnung-testsuite/business-cases/standard/01.01a-INVOICE_ubl.xml"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def samples(text: str) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    """Every sample of a Prometheus exposition, keyed by name and label set."""
    from prometheus_client.parser import text_string_to_metric_families

    return {
        (s.name, frozenset(s.labels.items())): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


def _call(url: str, data: bytes | None = None, headers: dict[str, str] | None = None) -> Any:
    """One request; 60 s, because the first document starts a worker and may compile on a
    loaded machine (lazy workers, issue 18: 10 s timed out at load 5-8)."""
    req = urllib.request.Request(url, data=data, headers=headers or {})
    try:
        with urllib.request.urlopen(req, timeout=60) as resp:
            return resp.status, resp.headers, resp.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.headers, exc.read()


@pytest.fixture
def server_env(tmp_path: Path, installed_data_dir: Path) -> dict[str, str]:
    env = dict(os.environ)
    env.update(
        GATEWAY_DATA_DIR=str(installed_data_dir),  # artefacts come from here
        GATEWAY_DATABASE_URL=f"sqlite+aiosqlite:///{tmp_path / 'gw.db'}",
        GATEWAY_HTTP_HOST="127.0.0.1",
        GATEWAY_HTTP_PORT=str(_free_port()),
        GATEWAY_SMTP_PORT="0",
        GATEWAY_VALIDATION_JOBS="1",
        GATEWAY_LOG_LEVEL="WARNING",
    )
    return env


def _gateway(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "gateway", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )


@pytest.mark.slow
def test_serve_health_metrics_and_graceful_stop(server_env: dict[str, str], corpus_dir: Path):
    created = _gateway(
        server_env, "keys", "create", "--tenant", "acme", "--scope", "submit", "--scope", "read"
    )
    assert created.returncode == 0, created.stderr
    key = created.stdout.strip()
    assert key.startswith("gw_") and key not in _gateway(server_env, "keys", "list").stdout

    base = f"http://127.0.0.1:{server_env['GATEWAY_HTTP_PORT']}"
    proc = subprocess.Popen(
        [sys.executable, "-m", "gateway", "serve"],
        env=server_env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    try:
        deadline = time.time() + 60
        while True:
            try:
                status, _, body = _call(base + "/health")
                if status == 200:
                    break
            except OSError:
                pass
            assert proc.poll() is None, proc.stderr.read().decode() if proc.stderr else ""
            assert time.time() < deadline, "server did not become healthy"
            time.sleep(0.2)
        health = json.loads(body)
        assert health["status"] == "ok"
        assert health["checks"] == {"database": "ok", "validator": "ok", "outbound": "ok"}
        workers = health["validation"]["workers"]
        # Workers start lazily (issue 18): none exists before the first document.
        assert workers == []
        assert health["outbound"] == {"oldest_due_seconds": 0.0}
        # The store's indexes are read once after the start (an empty store: at once).
        for _ in range(100):
            if json.loads(_call(base + "/health")[2])["store"] == {"indexes": "read"}:
                break
            time.sleep(0.1)
        else:
            raise AssertionError("the store's indexes were never reported read")
        status, _, body = _call(base + "/health/live")
        assert status == 200 and json.loads(body)["status"] == "alive"

        raw = (corpus_dir / XR).read_bytes()
        auth = {"Authorization": f"Bearer {key}", "Content-Type": "application/xml"}
        for _ in range(2):
            status, _, body = _call(base + "/v1/documents", raw, auth)
            assert status == 201, body
        status, headers, body = _call(base + "/v1/documents", b"<a>", auth)
        assert status == 400
        assert headers["Content-Type"].startswith("application/problem+json")

        status, headers, body = _call(base + "/metrics")
        assert status == 200 and headers["Content-Type"].startswith("text/plain")
        got = samples(body.decode())
        docs = {"channel": "api", "direction": "inbound"}
        assert got["gateway_documents", frozenset({**docs, "status": "received"}.items())] == 1
        assert got["gateway_documents", frozenset({**docs, "status": "duplicate"}.items())] == 1
        assert (
            got["gateway_duplicates_total", frozenset({"channel": "api", "tenant": "acme"}.items())]
            == 1
        )
        assert got["gateway_validation_seconds_count", frozenset()] == 3
        refused = {"channel": "api", "status": "refused", "tenant": "acme"}
        assert got["gateway_intake_total", frozenset(refused.items())] == 1
        posted = {"route": "/v1/documents", "method": "POST"}
        assert (
            got["gateway_http_requests_total", frozenset({**posted, "status": "201"}.items())] == 2
        )
        assert (
            got["gateway_http_requests_total", frozenset({**posted, "status": "400"}.items())] == 1
        )
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            code = proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            raise
    assert code == 0, proc.stderr.read().decode() if proc.stderr else ""
