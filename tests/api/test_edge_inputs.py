"""Inputs checked before they reach the database, on SQLite and PostgreSQL (issue 14, 3 and 7).

Each payload below gave a 500 on PostgreSQL (SQLite stored it), or a 202 followed by failed
deliveries; now each is a 4xx naming the value, answered quickly, and nothing is stored.
"""

from __future__ import annotations

import json
import re
import time
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from sqlalchemy import func, select

from gateway.outbound import OutboundItem
from gateway.store import Document
from tests.api.rawhttp import port_of, raw_http

if TYPE_CHECKING:
    from tests.api_gateway import Gateway

PROBLEM = "application/problem+json"
#: Every refusal here is a check on the request, not work: well under a second even loaded.
FAST = 5.0


async def _count(gateway: Gateway, model: Any = Document) -> int:
    async with gateway.db.read() as s:
        return int(await s.scalar(select(func.count()).select_from(model)) or 0)


async def _request(gateway: Gateway, method: str, path: str, **kw: Any) -> tuple[int, Any]:
    started = time.monotonic()
    async with gateway.http.request(method, gateway.url + path, **kw) as resp:
        body = await resp.read()
        ctype = resp.content_type
    assert time.monotonic() - started < FAST
    assert ctype == PROBLEM or resp.status < 400, (resp.status, body[:200])
    return resp.status, json.loads(body) if body else None


async def test_over_long_document_values_are_422_naming_the_field(
    any_gateway: Gateway, ubl: bytes
) -> None:
    gw = any_gateway
    key = await gw.key("acme", "submit", "read")
    long_id = "X" * 201  # documents.number is VARCHAR(200)
    status, body = await gw.submit(key, gw.renumber(ubl, long_id))
    assert status == 422, body
    assert body["code"] == "invalid-field"
    assert body["field"].startswith("invoice number (cbc:ID")
    assert "longer than 200 characters (201)" in body["detail"]

    currency = re.sub(
        rb"<cbc:DocumentCurrencyCode>EUR</cbc:DocumentCurrencyCode>",
        b"<cbc:DocumentCurrencyCode>EURO-DOLLAR</cbc:DocumentCurrencyCode>",
        ubl,
    )
    assert currency != ubl
    status, body = await gw.submit(key, currency)
    assert status == 422 and body["field"].startswith("currency code")
    assert await _count(gw) == 0

    # At the limit it is stored (and validated) like any other document.
    status, body = await gw.submit(key, gw.renumber(ubl, "X" * 200))
    assert status == 201, body
    assert await _count(gw) == 1


async def test_status_reason_with_nul_or_lone_surrogate_is_refused(
    any_gateway: Gateway, ubl: bytes
) -> None:
    gw = any_gateway
    key = await gw.key("acme", "submit", "read", "status")
    status, created = await gw.submit(key, ubl)
    assert status == 201
    path = f"/v1/documents/{created['id']}/status"
    _, doc = await gw.get(key, f"/v1/documents/{created['id']}")
    target = doc["next_statuses"][0]  # whichever move the status model allows first
    headers = {**gw.headers(key), "Content-Type": "application/json"}
    for raw, why in (
        (b'{"status": "%s", "reason": "a\\u0000b"}' % target.encode(), "NUL"),
        (b'{"status": "%s", "reason": "\\ud800"}' % target.encode(), "lone surrogate"),
        (b'{"status": "%s\\r\\n", "reason": "x"}' % target.encode(), "line break"),
    ):
        code, body = await _request(gw, "POST", path, data=raw, headers=headers)
        assert code in (400, 422), body
        assert why in body["detail"], body
    # A reason may span lines; the move works on both databases.
    code, body = await _request(
        gw,
        "POST",
        path,
        data=json.dumps({"status": target, "reason": "seen\nby accounts"}),
        headers=headers,
    )
    assert code == 200, body


async def test_deep_json_is_400_not_500(any_gateway: Gateway) -> None:
    gw = any_gateway
    key = await gw.key("acme", "submit", "read", "status")
    headers = {**gw.headers(key), "Content-Type": "application/json"}
    deep = b"[" * 30_000 + b"]" * 30_000  # 60 KB: under the JSON body cap
    code, body = await _request(gw, "POST", "/v1/documents/x/status", data=deep, headers=headers)
    assert code == 400 and body["code"] == "invalid-json" and "nested deeper" in body["detail"]
    shallow_enough = {"status": "x", "reason": "y", "extra": [[[[[[1]]]]]]}
    code, body = await _request(
        gw, "POST", "/v1/documents/nope/status", json=shallow_enough, headers=gw.headers(key)
    )
    assert code == 404  # parsed fine; the document does not exist


async def test_cursor_beyond_bigint_and_bad_query_values(any_gateway: Gateway) -> None:
    gw = any_gateway
    key = await gw.key("acme", "read")
    h = gw.headers(key)
    for path in ("/v1/documents", "/v1/inbox"):
        code, body = await _request(gw, "GET", f"{path}?cursor={2**63}", headers=h)
        assert code == 400 and body["parameter"] == "cursor", body
        code, body = await _request(gw, "GET", f"{path}?cursor={2**63 - 1}", headers=h)
        assert code == 200, body
        code, body = await _request(gw, "GET", f"{path}?cursor=1e3", headers=h)
        assert code == 400 and body["code"] == "invalid-parameter"
    code, body = await _request(gw, "GET", "/v1/documents?status=a%00b", headers=h)
    assert code == 400 and body["parameter"] == "status" and "NUL" in body["detail"]
    code, body = await _request(gw, "GET", "/v1/documents?channel=" + "e" * 33, headers=h)
    assert code == 400 and "longer than 32" in body["detail"]
    code, body = await _request(gw, "GET", "/v1/documents/a%00b", headers=h)
    assert code == 400 and body["code"] == "invalid-path"
    code, body = await _request(
        gw, "GET", "/v1/documents/" + quote("\udcff", errors="surrogatepass"), headers=h
    )
    assert code in (400, 404), body


async def test_receiver_parameter_checked_before_anything_is_queued(
    any_gateway: Gateway, ubl: bytes
) -> None:
    gw = any_gateway
    key = await gw.key("acme", "submit", "read")
    h = {**gw.headers(key), "Content-Type": "application/xml"}
    for receiver, why in (
        ("0088:" + "1" * 300, "longer than 300"),
        ("0088:123\r\nX-Injected: yes", "line break"),
        ("0088:12\x003", "NUL"),
    ):
        code, body = await _request(
            gw, "POST", "/v1/outbound?receiver=" + quote(receiver), data=ubl, headers=h
        )
        assert code == 400, body
        assert body["parameter"] == "receiver" and why in body["detail"], body
    assert await _count(gw, OutboundItem) == 0
    assert await _count(gw) == 0


async def test_multipart_without_boundary_or_truncated_is_400(
    any_gateway: Gateway, ubl: bytes
) -> None:
    gw = any_gateway
    key = await gw.key("acme", "submit")
    code, body = await _request(
        gw,
        "POST",
        "/v1/documents",
        data=b"--x\r\n\r\nabc",
        headers={**gw.headers(key), "Content-Type": "multipart/form-data"},
    )
    assert code == 400 and body["code"] == "bad-multipart", body
    truncated = (
        b'--b0undary\r\nContent-Disposition: form-data; name="document"; filename="i.xml"\r\n'
        b"Content-Type: application/xml\r\n\r\n" + ubl[:500]
    )
    code, body = await _request(
        gw,
        "POST",
        "/v1/documents",
        data=truncated,
        headers={**gw.headers(key), "Content-Type": "multipart/form-data; boundary=b0undary"},
    )
    assert code == 400, body
    assert await _count(gw) == 0


async def test_malformed_authorization_headers_are_4xx(any_gateway: Gateway) -> None:
    gw = any_gateway
    key = await gw.key("acme", "read")
    port = port_of(gw)
    for value in (
        b"Bearer \xff\xfe\xfd",  # non-UTF-8: was a traceback per request
        b"Bearer " + key.encode() + b"\xc3",
        b"Bearer " + key.encode() + b"\r",  # a key file with Windows line endings
        b"Bearer " + key.encode() + b"\x00",
        b"Bearer " + b"A" * 5000,
    ):
        req = (
            b"GET /v1/documents HTTP/1.1\r\nHost: x\r\nConnection: close\r\n"
            b"Authorization: " + value + b"\r\n\r\n"
        )
        status, data = await raw_http(port, req)
        assert status in (400, 401), (value[:40], data[:200])
    # The well-formed key still works.
    code, _ = await _request(gw, "GET", "/v1/documents", headers=gw.headers(key))
    assert code == 200
