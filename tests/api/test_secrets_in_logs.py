"""No key material in any log line (issue 14, item 6), checked on what the real server logged.

The session-wide check (``pytest_sessionfinish`` in the root conftest) greps every log line the
whole suite produced; these tests send the payloads that used to leak and read the lines
logged meanwhile, so they fail on their own if a leak comes back.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from tests.api.rawhttp import port_of, raw_http

if TYPE_CHECKING:
    from tests.api_gateway import Gateway


def _secret(key: str) -> str:
    return key.split("_", 2)[2]  # gw_<hex id>_<secret>; the secret itself may contain "_"


def _records(lines: list[str]) -> list[dict[str, Any]]:
    return [json.loads(line) for line in lines]


async def test_key_in_query_string_is_refused_and_never_logged(
    gateway: Gateway, session_log: Any
) -> None:
    key = await gateway.key("acme", "read")
    start = session_log.offset()
    for param in ("api_key", "token", "key"):
        async with gateway.http.get(
            f"{gateway.url}/v1/documents?{param}={key}&status=received"
        ) as resp:
            assert resp.status == 400
            body = await resp.json(content_type=None)
        assert body["code"] == "key-in-url" and "Authorization" in body["detail"]
        assert key not in json.dumps(body)
    lines = session_log.lines_since(start)
    assert not [line for line in lines if _secret(key) in line]
    access = [r for r in _records(lines) if r["logger"] == "gateway.http.access"]
    assert len(access) == 3, lines  # the requests were logged, without the key
    assert "api_key=***" in access[0]["msg"] and "status=received" in access[0]["msg"]


async def test_malformed_header_lines_are_not_logged_verbatim(
    gateway: Gateway, session_log: Any
) -> None:
    key = await gateway.key("acme", "read")
    start = session_log.offset()
    for tail in (b"\r", b"\x00", b"\r\x00", b"\xff\xfe"):
        req = (
            b"GET /v1/documents HTTP/1.1\r\nHost: x\r\nConnection: close\r\n"
            b"Authorization: Bearer " + key.encode() + tail + b"\r\n\r\n"
        )
        status, _ = await raw_http(port_of(gateway), req)
        assert status in (400, 401)
    lines = session_log.lines_since(start)
    assert lines, "the refusals were logged"
    assert not [line for line in lines if _secret(key) in line], lines
    assert not [line for line in lines if "Traceback" in line], lines
    levels = {r["level"] for r in _records(lines)}
    assert "error" not in levels, lines


async def test_non_utf8_authorization_is_401_without_traceback(
    gateway: Gateway, session_log: Any
) -> None:
    start = session_log.offset()
    for _ in range(3):
        req = (
            b"GET /v1/documents HTTP/1.1\r\nHost: x\r\nConnection: close\r\n"
            b"Authorization: Bearer gw_\xc3\x28\xa0\xa1_\xe2\x82\r\n\r\n"
        )
        status, data = await raw_http(port_of(gateway), req)
        assert status == 401, data[:300]
        assert b"unauthorized" in data
    lines = session_log.lines_since(start)
    assert not [line for line in lines if "Traceback" in line or '"error"' in line], lines
