"""The operator scope and routing stranded documents (``gateway.admin.routing``: the API, and
``gateway participants add``)."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from gateway.cli import main
from gateway.config import load_settings
from gateway.inbound import Submission
from gateway.store import Database, repo
from gateway.web import INTAKE

if TYPE_CHECKING:
    from tests.api_gateway import Gateway

BUYER = "EM:buyer@info.de"  # the receiver endpoint of the XRechnung 01.01a invoice


async def _operator_key(gateway: Gateway) -> str:
    async with gateway.db.write() as s:
        _, plaintext = await repo.create_api_key(s, "operator", [], "ops", operator=True)
    return plaintext


async def _stranded(gateway: Gateway, raw: bytes) -> str:
    result = await gateway.app[INTAKE].submit(Submission(raw, "email", None))
    assert result.status == "unroutable" and result.tenant is None
    return result.document_id


async def test_operator_scope_only_with_the_operator_flag(gateway: Gateway) -> None:
    async with gateway.db.write() as s:
        with pytest.raises(ValueError, match="only with --operator"):
            await repo.create_api_key(s, "acme", ["admin", "operator"])
        key, _ = await repo.create_api_key(s, "operator", [], operator=True)
    assert key.scope_set == {"operator"}


async def test_route_needs_an_operator_key(gateway: Gateway, ubl: bytes) -> None:
    doc_id = await _stranded(gateway, ubl)
    admin = await gateway.key("acme", "admin")
    for path, method in (
        (f"/v1/admin/documents/{doc_id}/route", "post"),
        ("/v1/admin/unrouted", "get"),
    ):
        if method == "post":
            status, body = await gateway.post_json(admin, path, {"tenant": "acme"})
        else:
            status, body = await gateway.get(admin, path)
        assert status == 403, body
        assert body["required_scope"] == "operator"
    # A tenant admin cannot even see the stranded document.
    status, _ = await gateway.get(admin, f"/v1/documents/{doc_id}")
    assert status == 404


async def test_operator_routes_an_unroutable_document(gateway: Gateway, ubl: bytes) -> None:
    doc_id = await _stranded(gateway, ubl)
    op = await _operator_key(gateway)
    status, listed = await gateway.get(op, "/v1/admin/unrouted")
    assert status == 200 and [d["id"] for d in listed["items"]] == [doc_id]

    status, body = await gateway.post_json(
        op, f"/v1/admin/documents/{doc_id}/route", {"tenant": "nobody-by-that-name"}
    )
    assert status == 422 and body["code"] == "unknown-tenant"

    acme = await gateway.key("acme", "read")
    status, body = await gateway.post_json(
        op,
        f"/v1/admin/documents/{doc_id}/route",
        {"tenant": "acme", "reason": "buyer confirmed by phone", "actor": "ops: Jo"},
    )
    assert status == 200, body
    assert body["tenant"] == "acme" and body["status"] == "received"
    assert body["routed"] == {"from_status": "unroutable", "to_status": "received"}

    status, doc = await gateway.get(acme, f"/v1/documents/{doc_id}")
    assert status == 200
    last = doc["history"][-1]
    assert (last["from"], last["to"], last["source"]) == ("unroutable", "received", "operator")
    op_key_id = op.split("_")[1]
    assert (last["actor"], last["tenant"], last["key_id"]) == ("ops: Jo", "operator", op_key_id)
    assert "buyer confirmed by phone" in last["reason"]
    status, inbox = await gateway.get(acme, "/v1/inbox")
    assert status == 200 and [i["document"]["id"] for i in inbox["items"]] == [doc_id]

    status, body = await gateway.post_json(
        op, f"/v1/admin/documents/{doc_id}/route", {"tenant": "acme"}
    )
    assert status == 409 and body["code"] == "already-routed"
    status, listed = await gateway.get(op, "/v1/admin/unrouted")
    assert listed["items"] == []


async def test_routed_copy_of_an_original_becomes_a_duplicate(gateway: Gateway, ubl: bytes) -> None:
    acme = await gateway.key("acme", "submit", "read")
    status, original = await gateway.submit(acme, ubl)
    assert status == 201
    doc_id = await _stranded(gateway, ubl)
    op = await _operator_key(gateway)
    status, body = await gateway.post_json(
        op, f"/v1/admin/documents/{doc_id}/route", {"tenant": "acme"}
    )
    assert status == 200, body
    assert body["status"] == "duplicate" and body["duplicate_of"] == original["id"]


def _write_config(tmp_path: Path, db_url: str) -> Path:
    cfg = tmp_path / "gateway.toml"
    cfg.write_text(f'data_dir = "{tmp_path / "cli-data"}"\ndatabase_url = "{db_url}"\n')
    return cfg


async def test_participants_add_routes_stranded_documents(
    gateway: Gateway, ubl: bytes, tmp_path: Path, capsys: Any
) -> None:
    other = gateway.renumber(ubl, "OTHER-BUYER-1").replace(b"buyer@info.de", b"else@info.de")
    doc_id = await _stranded(gateway, ubl)
    elsewhere = await _stranded(gateway, other)
    url = str(gateway.db.engine.url)
    cfg = _write_config(tmp_path, url)
    # The CLI is synchronous (its own event loop): run it in a thread.
    rc = await asyncio.to_thread(
        main, ["--config", str(cfg), "participants", "add", "--tenant", "acme", BUYER]
    )
    assert rc == 0
    err = capsys.readouterr().err
    assert f"routed {doc_id}: unroutable -> received" in err
    async with gateway.db.read() as s:
        routed = await repo.get_document(s, doc_id, "acme")
        untouched = await repo.get_document(s, elsewhere, None)
        changes = await repo.history(s, doc_id)
    assert routed.status == "received"
    assert untouched.tenant is None and untouched.status == "unroutable"
    assert changes[-1].source == "participants" and changes[-1].actor == "cli:participants add"


def test_keys_create_operator_cli(tmp_path: Path, capsys: Any) -> None:
    cfg = _write_config(tmp_path, f"sqlite+aiosqlite:///{tmp_path / 'keys.db'}")
    assert main(["--config", str(cfg), "keys", "create", "--operator", "--label", "ops"]) == 0
    out = capsys.readouterr()
    assert out.out.startswith("gw_") and "scopes: operator" in out.err
    assert main(["--config", str(cfg), "keys", "create", "--tenant", "acme"]) == 2

    async def check() -> None:
        db = Database.from_settings(load_settings(cfg))
        try:
            async with db.read() as s:
                key = await repo.verify_api_key(s, out.out.strip())
        finally:
            await db.dispose()
        assert key is not None and key.tenant == "operator" and key.scope_set == {"operator"}

    asyncio.run(check())


async def test_unrouted_pages_and_refuses_bad_parameters(gateway: Gateway, ubl: bytes) -> None:
    ids = [await _stranded(gateway, gateway.renumber(ubl, f"STRANDED-{n}")) for n in range(2)]
    op = await _operator_key(gateway)
    status, first = await gateway.get(op, "/v1/admin/unrouted?limit=1")
    assert status == 200 and [d["id"] for d in first["items"]] == ids[:1]
    _, second = await gateway.get(op, f"/v1/admin/unrouted?limit=1&cursor={first['next_cursor']}")
    assert [d["id"] for d in second["items"]] == ids[1:]
    for query, name, code in [
        ("limit=0", "limit", "invalid-parameter"),  # used to be raised to 1
        ("limit=201", "limit", "invalid-parameter"),  # used to be cut to 200
        ("cursor=-1", "cursor", "invalid-parameter"),
        ("tenant=acme", "tenant", "unknown-parameter"),
    ]:
        status, body = await gateway.get(op, f"/v1/admin/unrouted?{query}")
        assert status == 400, (query, body)
        assert (body["code"], body["parameter"]) == (code, name), query
