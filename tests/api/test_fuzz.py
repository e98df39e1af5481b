"""No 500 from input (issue 14, item 7): hypothesis over every route, header and body.

A real gateway (the whole app, SQLite) serves on loopback from a thread of its own, so the
hypothesis test body can speak raw HTTP/1.1 with blocking sockets: request lines, headers and
bodies are sent byte for byte, including what aiohttp's client would refuse to send (CR, NUL,
non-UTF-8 in ``Authorization``, ``Content-Type: multipart`` without boundary, JSON nested deep,
lone surrogates). Every answer must be below 500, and nothing may be logged at ERROR.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import re
import socket
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest
from aiohttp import web
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from gateway.config import load_settings
from gateway.server import create_app
from gateway.store import repo
from gateway.web import DB

ROUTE_PARAM = re.compile(r"\{[^}]+\}")


class ThreadedGateway:
    """The app on its own event loop in a daemon thread; ``call`` runs a coroutine there."""

    def __init__(self, app: web.Application) -> None:
        self.app = app
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()
        self.runner = web.AppRunner(app)
        self.port = self.call(self._start())

    def call(self, coro: Any, timeout: float = 60) -> Any:
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout)

    async def _start(self) -> int:
        await self.runner.setup()
        site = web.TCPSite(self.runner, "127.0.0.1", 0)
        await site.start()
        return int(site._server.sockets[0].getsockname()[1])  # type: ignore[union-attr]

    def close(self) -> None:
        self.call(self.runner.cleanup())
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(10)


@pytest.fixture(scope="module")
def fuzzed(
    tmp_path_factory: pytest.TempPathFactory, validator: Any
) -> Iterator[tuple[ThreadedGateway, str]]:
    data_dir = tmp_path_factory.mktemp("fuzz") / "data"
    overrides = {"data_dir": str(data_dir), "http": {"auth_failures_per_minute": 0}}
    settings = load_settings(env={}, overrides=overrides)
    gateway = ThreadedGateway(create_app(settings, validator=validator))

    async def make_key() -> str:
        async with gateway.app[DB].write() as s:
            _, key = await repo.create_api_key(s, "fuzz", ("admin",))
        return key

    key = gateway.call(make_key())
    yield gateway, key
    gateway.close()


def _routes(app: web.Application) -> list[tuple[str, str]]:
    out = []
    for route in app.router.routes():
        info = route.resource.get_info() if route.resource else {}
        path = info.get("path") or info.get("formatter")
        if path and route.method != "*":
            out.append((route.method, path))
    return sorted(set(out))


def _exchange(port: int, request: bytes) -> int:
    with socket.create_connection(("127.0.0.1", port), timeout=30) as sock:
        with contextlib.suppress(OSError):  # the server may answer (and close) before all is sent
            sock.sendall(request)
        data = b""
        while b"\r\n" not in data:
            chunk = sock.recv(4096)
            if not chunk:
                break
            data += chunk
    if not data.startswith(b"HTTP/1."):
        return 0  # the server closed the connection without an answer (a malformed request)
    return int(data.split(b" ", 2)[1])


texts = st.text(st.characters(codec="utf-8", exclude_categories=()), max_size=40)
nasty = st.sampled_from(
    ["", "\x00", "\r\n", "\ud800", "\udcff", "x" * 5000, "-1", str(2**63), str(2**64), "1e9"]
)
benign = st.sampled_from(["received", "1", "50", "email", "inbound", "0088:123", "x"])
values = benign | texts | nasty


def _encode(value: str) -> str:
    return quote(value, safe="", errors="surrogatepass")


@st.composite
def bodies(draw: Any, invoice: bytes) -> tuple[bytes, bytes | None]:
    """(body, content type) pairs the routes may be sent."""
    kind = draw(st.sampled_from(["json", "deep", "bytes", "xml", "multipart", "none"]))
    if kind == "json":
        leaf = st.none() | st.booleans() | st.integers() | values
        obj = st.recursive(
            leaf,
            lambda c: st.lists(c, max_size=3) | st.dictionaries(values, c, max_size=3),
            max_leaves=10,
        )
        payload = json.dumps({"status": draw(values), "reason": draw(values), "x": draw(obj)})
        return payload.encode("utf-8", "surrogatepass"), b"application/json"
    if kind == "deep":
        depth = draw(st.sampled_from([40, 2000, 30000]))
        return b"[" * depth + b"]" * depth, b"application/json"
    if kind == "bytes":
        return draw(st.binary(max_size=300)), draw(
            st.sampled_from([b"application/xml", b"text/plain", b"application/json"])
        )
    if kind == "xml":
        return invoice, b"application/xml"
    if kind == "multipart":
        boundary = draw(st.sampled_from([b"", b"; boundary=zz", b"; boundary="]))
        body = (
            b'--zz\r\nContent-Disposition: form-data; name="document"\r\n\r\n'
            + invoice[: draw(st.integers(0, 400))]
        )
        if draw(st.booleans()):
            body += b"\r\n--zz--\r\n"
        return body, b"multipart/form-data" + boundary
    return b"", None


@st.composite
def requests(draw: Any, routes: list[tuple[str, str]], key: str, invoice: bytes) -> bytes:
    method, path = draw(st.sampled_from(routes))
    path = ROUTE_PARAM.sub(lambda _: _encode(draw(values)) or "x", path)
    query = (
        {}
        if draw(st.booleans())
        else draw(
            st.dictionaries(
                st.sampled_from(
                    [
                        "cursor",
                        "limit",
                        "status",
                        "channel",
                        "direction",
                        "receiver",
                        "state",
                        draw(texts) or "q",
                    ]
                ),
                values,
                max_size=3,
            )
        )
    )
    if query:
        path += "?" + "&".join(f"{_encode(k)}={_encode(v)}" for k, v in query.items())
    auth = draw(
        st.sampled_from(
            [
                b"Bearer " + key.encode(),
                b"Bearer " + key.encode() + b"\r",
                b"Bearer " + key.encode() + b"\x00",
                b"Basic eA==",
                b"",
            ]
        )
        | st.binary(max_size=60).map(lambda b: b"Bearer " + b)
    )
    body, ctype = draw(bodies(invoice))
    headers = [b"Host: fuzz", b"Connection: close", b"Content-Length: %d" % len(body)]
    if auth:
        headers.append(b"Authorization: " + auth)
    if ctype is not None:
        headers.append(b"Content-Type: " + ctype)
    if draw(st.booleans()):
        headers.append(b"Idempotency-Key: " + draw(values).encode("utf-8", "surrogatepass"))
    head = f"{method} {path} HTTP/1.1\r\n".encode("utf-8", "surrogatepass")
    return head + b"\r\n".join(headers) + b"\r\n\r\n" + body


@pytest.fixture(scope="module")
def invoice(corpus_dir: Path) -> bytes:
    return (corpus_dir / "peppol-bis-examples" / "base-example.xml").read_bytes()


def test_no_5xx_from_any_input(fuzzed: Any, invoice: bytes, session_log: Any) -> None:
    gateway, key = fuzzed
    routes = _routes(gateway.app)
    assert len(routes) >= 10, routes
    start = session_log.offset()
    seen: set[int] = set()

    @settings(
        max_examples=150,
        deadline=None,
        derandomize=True,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    )
    @given(requests(routes, key, invoice))
    def one(request: bytes) -> None:
        status = _exchange(gateway.port, request)
        seen.add(status)
        assert status < 500, request[:300]

    one()
    errors = [line for line in session_log.lines_since(start) if '"level": "error"' in line]
    assert not errors, errors[:3]
    assert {s // 100 for s in seen if s} >= {2, 4}, seen  # the fuzz reached handlers too
