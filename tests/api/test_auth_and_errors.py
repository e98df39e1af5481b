"""Auth, scopes, tenant isolation and refused inputs: all answered as problem+json."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from sqlalchemy import func, select

from gateway.store import Document, repo

if TYPE_CHECKING:
    from tests.api_gateway import Gateway

PROBLEM = "application/problem+json"


async def _problem(resp: Any) -> dict[str, Any]:
    assert resp.content_type == PROBLEM
    body = await resp.json(content_type=None)
    assert body["status"] == resp.status
    return body


async def _stored(gateway: Gateway) -> int:
    async with gateway.db.read() as s:
        return int(await s.scalar(select(func.count()).select_from(Document)) or 0)


async def test_missing_bad_and_revoked_keys_are_401(gateway: Gateway, ubl: bytes) -> None:
    key = await gateway.key("acme", "submit", "read")
    url = gateway.url + "/v1/documents"
    for headers in (
        {},
        {"Authorization": "Bearer gw_nope_nope"},
        {"Authorization": "Basic x"},
        {"Authorization": f"Bearer {key}x"},
    ):
        async with gateway.http.post(url, data=ubl, headers=headers) as resp:
            assert resp.status == 401
            assert (await _problem(resp))["code"] == "unauthorized"
            assert resp.headers["WWW-Authenticate"].startswith("Bearer")
    async with gateway.db.write() as s:
        await repo.revoke_api_key(s, key)
    async with gateway.http.get(url, headers=gateway.headers(key)) as resp:
        assert resp.status == 401
    assert await _stored(gateway) == 0


async def test_missing_scope_is_403(gateway: Gateway, ubl: bytes) -> None:
    reader = await gateway.key("acme", "read")
    submitter = await gateway.key("acme", "submit")
    async with gateway.http.post(
        gateway.url + "/v1/documents",
        data=ubl,
        headers=gateway.headers(reader, **{"Content-Type": "application/xml"}),
    ) as resp:
        assert resp.status == 403
        body = await _problem(resp)
        assert body["code"] == "forbidden" and body["required_scope"] == "submit"
    status, created = await gateway.submit(submitter, ubl)
    assert status == 201
    status, body = await gateway.get(submitter, f"/v1/documents/{created['id']}")
    assert status == 403 and body["code"] == "forbidden"
    status, body = await gateway.post_json(
        submitter, f"/v1/admin/documents/{created['id']}/mark-original", {"reason": "x"}
    )
    assert status == 403 and body["required_scope"] == "admin"


async def test_tenant_b_cannot_see_tenant_a_documents(gateway: Gateway, ubl: bytes) -> None:
    a = await gateway.key("tenant-a", "submit", "read", "status")
    b = await gateway.key("tenant-b", "submit", "read", "status", "admin")
    _, created = await gateway.submit(a, ubl)
    doc = created["id"]
    for path in (f"/v1/documents/{doc}", f"/v1/documents/{doc}/content"):
        status, body = await gateway.get(b, path)
        assert status == 404 and body["code"] == "not-found"
    status, body = await gateway.post_json(b, f"/v1/documents/{doc}/status", {"status": "paid"})
    assert status == 404
    status, body = await gateway.post_json(
        b, f"/v1/admin/documents/{doc}/mark-original", {"reason": "x"}
    )
    assert status == 404
    _, listing = await gateway.get(b, "/v1/documents")
    assert listing["items"] == []
    _, inbox = await gateway.get(b, "/v1/inbox")
    assert inbox["items"] == []
    _, mine = await gateway.get(a, f"/v1/documents/{doc}")
    assert mine["status"] == "received"  # B's attempts changed nothing


async def test_malformed_and_doctype_are_refused_and_not_stored(gateway: Gateway) -> None:
    key = await gateway.key("acme")
    status, body = await gateway.submit(key, b"<Invoice><unclosed></Invoice>")
    assert status == 400 and body["code"] == "not-well-formed"
    xxe = (
        b'<?xml version="1.0"?>\n<!DOCTYPE Invoice [<!ENTITY x SYSTEM "file:///etc/passwd">]>'
        b"<Invoice>&x;</Invoice>"
    )
    status, body = await gateway.submit(key, xxe)
    assert status == 400 and body["code"] == "forbidden-construct"
    assert "root:" not in str(body)
    status, body = await gateway.submit(key, b"{}", content_type="application/json")
    assert status == 415 and body["code"] == "unsupported-media-type"
    assert await _stored(gateway) == 0


async def test_oversized_bodies_are_413(gateway: Gateway, ubl: bytes) -> None:
    key = await gateway.key("acme")
    limit = gateway.app["intake"].db and gateway.app[_settings_key()].http.max_body_bytes
    big = b"<a>" + b"x" * limit + b"</a>"
    # Declared too large: refused from Content-Length alone.
    status, body = await gateway.submit(key, big)
    assert status == 413 and body["code"] == "payload-too-large"

    # No Content-Length (chunked): refused while streaming, once the limit is passed.
    sent = 0

    async def chunks() -> Any:
        nonlocal sent
        yield b"<a>"
        for _ in range(limit // 65536 + 50):
            sent += 65536
            yield b"x" * 65536

    try:
        async with gateway.http.post(
            gateway.url + "/v1/documents",
            data=chunks(),
            headers=gateway.headers(key, **{"Content-Type": "application/xml"}),
        ) as resp:
            assert resp.status == 413
            assert (await _problem(resp))["code"] == "payload-too-large"
    except Exception as exc:  # the server may close before the client finished sending
        raise AssertionError(f"expected a 413 answer, got {exc!r}") from exc
    assert await _stored(gateway) == 0


def _settings_key() -> Any:
    from gateway.web import SETTINGS

    return SETTINGS


async def test_unknown_route_and_bad_json_are_problems(gateway: Gateway, ubl: bytes) -> None:
    key = await gateway.key("acme", "submit", "read", "status")
    async with gateway.http.get(gateway.url + "/nope") as resp:
        assert resp.status == 404 and (await _problem(resp))["code"] == "not-found"
    _, created = await gateway.submit(key, ubl)
    async with gateway.http.post(
        f"{gateway.url}/v1/documents/{created['id']}/status",
        data=b"{not json",
        headers=gateway.headers(key, **{"Content-Type": "application/json"}),
    ) as resp:
        assert resp.status == 400 and (await _problem(resp))["code"] == "invalid-json"
