"""The management API on a real gateway (SQLite and PostgreSQL): tenants, participant ids and
API keys; a tenant admin manages only its own tenant (another tenant's is 404), an operator
every tenant; secrets are shown once and never listed or logged."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from gateway.store import repo
from gateway.web import KEY_CACHE

if TYPE_CHECKING:
    from tests.admin.conftest import Admins

ACME = "/v1/admin/tenants/acme"


async def test_tenants_operator_sees_all_admin_only_its_own(admins: Admins) -> None:
    gw = admins.gw
    status, body = await gw.call(
        "POST", admins.operator, "/v1/admin/tenants", json={"name": "gamma"}
    )
    assert status == 201 and body["name"] == "gamma" and body["created_at"].endswith("Z"), body
    status, body = await gw.call(
        "POST", admins.operator, "/v1/admin/tenants", json={"name": "gamma"}
    )
    assert status == 409 and body["code"] == "tenant-exists"
    status, body = await gw.call("POST", admins.operator, "/v1/admin/tenants", json={"name": "a b"})
    assert status == 422 and body["code"] == "invalid-tenant"
    status, body = await gw.call("GET", admins.operator, "/v1/admin/tenants")
    assert status == 200
    assert {"acme", "beta", "gamma", "operator"} <= {t["name"] for t in body["items"]}
    status, body = await gw.call("GET", admins.acme, "/v1/admin/tenants")
    assert status == 200 and [t["name"] for t in body["items"]] == ["acme"]
    assert body["items"][0]["active_keys"] == 1
    status, body = await gw.call("POST", admins.acme, "/v1/admin/tenants", json={"name": "x"})
    assert status == 403 and body["required_scope"] == "operator"
    # Reading: own tenant yes, another tenant 404 exactly like a tenant that does not exist.
    status, body = await gw.call("GET", admins.acme, ACME)
    assert status == 200 and body["name"] == "acme" and len(body["keys"]) == 1
    other = await gw.call("GET", admins.acme, "/v1/admin/tenants/beta")
    missing = await gw.call("GET", admins.acme, "/v1/admin/tenants/nobody")
    assert other[0] == missing[0] == 404
    assert other[1]["code"] == missing[1]["code"] == "not-found"
    status, _ = await gw.call("GET", admins.operator, "/v1/admin/tenants/nobody")
    assert status == 404
    # A read-only key of the tenant is not an admin.
    reader = await gw.key("acme", "read")
    status, body = await gw.call("GET", reader, ACME)
    assert status == 403


async def test_keys_create_list_revoke_and_the_cache_forgets_at_once(admins: Admins) -> None:
    gw = admins.gw
    status, body = await gw.call(
        "POST", admins.acme, f"{ACME}/keys", json={"scopes": ["read"], "label": "erp"}
    )
    assert status == 201, body
    secret, key = body["secret"], body["key"]
    assert key["scopes"] == ["read"] and key["label"] == "erp" and not key["operator"]
    assert (await gw.call("GET", secret, "/v1/documents"))[0] == 200  # works, and is cached
    assert gw.app[KEY_CACHE].get(secret) is not None
    status, listing = await gw.call("GET", admins.acme, f"{ACME}/keys")
    assert status == 200 and key["id"] in {k["id"] for k in listing["items"]}
    async with gw.db.read() as s:
        stored = next(k for k in await repo.list_api_keys(s, "acme") if k.id == key["id"])
    text = str(listing)
    assert secret not in text and secret.split("_", 2)[2] not in text  # gw_<id>_<secret>
    assert stored.secret_sha256 not in text  # not even the hash
    # A tenant admin cannot mint operator keys, nor keys with unknown scopes.
    status, body = await gw.call("POST", admins.acme, f"{ACME}/keys", json={"operator": True})
    assert status == 403
    status, body = await gw.call("POST", admins.acme, f"{ACME}/keys", json={"scopes": ["root"]})
    assert status == 422 and body["code"] == "invalid-scopes"
    status, body = await gw.call("POST", admins.acme, f"{ACME}/keys", json={"scopes": "read"})
    assert status == 422
    # Revoking: the very next request with the key is refused (no waiting for the cache TTL).
    status, body = await gw.call("DELETE", admins.acme, f"{ACME}/keys/{key['id']}")
    assert status == 200 and body["revoked"] and body["revoked_at"]
    status, body = await gw.call("GET", secret, "/v1/documents")
    assert status == 401, body
    status, _ = await gw.call("DELETE", admins.acme, f"{ACME}/keys/nope")
    assert status == 404


async def test_operator_keys_only_from_an_operator(admins: Admins) -> None:
    gw = admins.gw
    status, body = await gw.call(
        "POST", admins.operator, f"{ACME}/keys", json={"operator": True, "label": "acme-ops"}
    )
    assert status == 201 and body["key"]["operator"] and body["key"]["tenant"] == "acme"
    status, _ = await gw.call("GET", body["secret"], "/v1/admin/unrouted")
    assert status == 200


async def test_tenant_isolation_of_keys(admins: Admins) -> None:
    gw = admins.gw
    _, listing = await gw.call("GET", admins.operator, f"{ACME}/keys")
    acme_key = listing["items"][0]["id"]
    # beta's admin: acme's keys are "not found", listing, creating and revoking alike.
    for method, path, json in (
        ("GET", f"{ACME}/keys", None),
        ("POST", f"{ACME}/keys", {"scopes": ["admin"]}),
        ("DELETE", f"{ACME}/keys/{acme_key}", None),
        ("DELETE", f"/v1/admin/tenants/beta/keys/{acme_key}", None),  # its own URL, acme's key
    ):
        status, body = await gw.call(method, admins.beta, path, json=json)
        assert status == 404, (method, path, body)
    assert (await gw.call("GET", admins.acme, "/v1/documents"))[0] == 200  # still works
    _, after = await gw.call("GET", admins.operator, f"{ACME}/keys")
    assert after["items"] == listing["items"]  # nothing created, nothing revoked
    # The operator manages any tenant's keys.
    status, body = await gw.call(
        "DELETE", admins.operator, f"/v1/admin/tenants/beta/keys/{acme_key}"
    )
    assert status == 404  # the key is acme's, not beta's
    status, body = await gw.call("DELETE", admins.operator, f"{ACME}/keys/{acme_key}")
    assert status == 200
    assert (await gw.call("GET", admins.acme, "/v1/documents"))[0] == 401


async def test_participants(admins: Admins) -> None:
    gw = admins.gw
    pid = "0088:7300010000001"
    status, body = await gw.call(
        "POST", admins.acme, f"{ACME}/participants", json={"participant": pid}
    )
    assert status == 403  # adding ids is the operator's: it hands the tenant stranded documents
    status, body = await gw.call(
        "POST", admins.operator, f"{ACME}/participants", json={"participant": "0088:7300010000001 "}
    )
    assert status == 201 and body["id"] == pid and body["routed"] == []
    status, body = await gw.call(
        "POST", admins.operator, "/v1/admin/tenants/beta/participants", json={"participant": pid}
    )
    assert status == 409 and body["code"] == "participant-taken"
    status, body = await gw.call(
        "POST", admins.operator, f"{ACME}/participants", json={"participant": "nocolon"}
    )
    assert status == 422 and body["code"] == "invalid-participant"
    status, body = await gw.call("GET", admins.acme, f"{ACME}/participants")
    assert status == 200 and [p["id"] for p in body["items"]] == [pid]
    assert (await gw.call("GET", admins.beta, f"{ACME}/participants"))[0] == 404
    status, _ = await gw.call("DELETE", admins.beta, f"/v1/admin/tenants/beta/participants/{pid}")
    assert status == 404  # acme's id, through beta's own URL
    status, body = await gw.call("DELETE", admins.acme, f"{ACME}/participants/{pid}")
    assert status == 200 and body["id"] == pid
    async with gw.db.read() as s:
        assert await repo.tenant_for_participant(s, pid) is None


async def test_adding_a_participant_routes_its_stranded_documents(admins: Admins) -> None:
    from gateway.inbound import Submission
    from gateway.web import INTAKE

    gw = admins.gw
    stranded = await gw.app[INTAKE].submit(Submission(gw.base_invoice, "email", None))
    assert stranded.status == "unroutable"
    buyer = "0002:FR23342"  # the buyer endpoint of the base example
    status, body = await gw.call(
        "POST", admins.operator, "/v1/admin/tenants/beta/participants", json={"participant": buyer}
    )
    assert status == 201, body
    assert body["routed"] == [
        {
            "document_id": stranded.document_id,
            "from_status": "unroutable",
            "to_status": "received",
            "duplicate_of": None,
        }
    ]
    doc = await gw.doc(admins.beta, stranded.document_id)
    assert doc["tenant"] == "beta"
    assert doc["history"][-1]["source"] == "participants"


async def test_delete_tenant(admins: Admins) -> None:
    gw = admins.gw
    await gw.call("POST", admins.operator, "/v1/admin/tenants", json={"name": "typo"})
    status, body = await gw.call(
        "POST", admins.operator, "/v1/admin/tenants/typo/keys", json={"scopes": ["read"]}
    )
    key = body["secret"]
    assert (await gw.call("GET", key, "/v1/documents"))[0] == 200
    assert (await gw.call("DELETE", admins.acme, "/v1/admin/tenants/acme"))[0] == 403
    status, body = await gw.call("DELETE", admins.operator, "/v1/admin/tenants/typo")
    assert status == 200 and body["deleted"] == "typo" and len(body["revoked_keys"]) == 1
    assert (await gw.call("GET", key, "/v1/documents"))[0] == 401
    assert (await gw.call("GET", admins.operator, "/v1/admin/tenants/typo"))[0] == 404
    # A tenant that has documents stays (its history is append-only).
    await gw.receive(admins.acme, gw.base_invoice)
    status, body = await gw.call("DELETE", admins.operator, ACME)
    assert status == 409 and body["code"] == "tenant-in-use" and "documents" in body["detail"]


async def test_settings_own_and_per_tenant(admins: Admins) -> None:
    gw = admins.gw
    status, body = await gw.call(
        "PUT",
        admins.acme,
        "/v1/admin/settings",
        json={"status_profile": {"inbound": "billing-portal"}},
    )
    assert status == 200 and body["status_profile"]["inbound"] == "billing-portal"
    status, body = await gw.call("GET", admins.operator, f"{ACME}/settings")
    assert status == 200 and body["status_profile"]["inbound"] == "billing-portal"
    status, body = await gw.call(
        "PUT", admins.operator, f"{ACME}/settings", json={"status_profile": {"inbound": "nope"}}
    )
    assert status == 422 and body["code"] == "unknown-profile" and "default" in body["known"]
    status, _ = await gw.call(
        "PUT", admins.beta, f"{ACME}/settings", json={"webhook_content": True}
    )
    assert status == 404
    status, body = await gw.call("GET", admins.acme, "/v1/admin/settings")
    assert body["webhook_content"] is False


async def test_no_secret_in_the_logs(admins: Admins, session_log: Any) -> None:
    gw = admins.gw
    start = session_log.offset()
    _, made = await gw.call("POST", admins.acme, f"{ACME}/keys", json={"scopes": ["read"]})
    _, hook = await gw.call(
        "PUT", admins.acme, f"{ACME}/webhook", json={"url": "http://127.0.0.1:9/x"}
    )
    await gw.call("DELETE", admins.acme, f"{ACME}/keys/{made['key']['id']}")
    await gw.call("GET", made["secret"], "/v1/documents")
    lines = "\n".join(session_log.lines_since(start))
    for secret in (made["secret"], hook["secret"], admins.acme):
        assert secret not in lines
