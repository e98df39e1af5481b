"""The AFNOR XP Z12-013 Flow API on a real gateway: submit -> search -> get, with French
invoices built from the corpus (tests/french_invoices.py) and the official CDAR examples.

The acknowledgement reflects validation (Ok / Error with the failed rule), duplicates across
channels (AlreadyExistingFlow) and what became of a lifecycle message (applied: Ok; from a
party the key does not own: Error InvoiceLCAccessDenied); a flow of one tenant is invisible to
another; bad input gets the standard's Error body with a stable code, and nothing is stored.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import json
from pathlib import Path
from typing import Any

import aiohttp

from gateway.france.flow import verify
from tests.france.flow.client import (
    BUYER,
    FLOWS,
    SELLER,
    body_of,
    cdar_example,
    documents,
    get_flow,
    search,
    sold_invoice,
    submit,
)
from tests.french_invoices import factur_x_pdf, french_invoice
from tests.waiting import until


async def test_submit_search_get_a_french_invoice(gw_factory: Any, corpus_dir: Path) -> None:
    gw = await gw_factory()
    key = await gw.key("acme", "submit", "read")
    raw = french_invoice(corpus_dir, "ubl", number="FLOW-1")
    info = {"name": "FLOW-1.xml", "flowSyntax": "UBL", "trackingId": "erp-0001"}
    status, body = await submit(gw, key, raw, {**info, "sha256": hashlib.sha256(raw).hexdigest()})
    assert status == 202, body
    assert body["name"] == "FLOW-1.xml" and body["trackingId"] == "erp-0001"
    assert body["sha256"] == hashlib.sha256(raw).hexdigest() and body["submittedAt"]
    flow_id = body["flowId"]

    # The same record as POST /v1/documents makes: stored, validated by the French rules.
    doc = await gw.doc(key, flow_id)
    assert doc["channel"] == "api" and doc["status"] == "received"
    assert doc["validation"]["scenario"].startswith("fr-ctc")

    status, found = await search(gw, key, {"where": {"trackingId": "erp-0001"}})
    assert status == 200, found
    (flow,) = found["results"]
    assert flow["flowId"] == flow_id and "nextCursor" not in found
    assert flow["flowSyntax"] == "UBL" and flow["flowProfile"] == "CIUS"
    assert flow["flowDirection"] == "Out" and flow["flowType"] == "CustomerInvoice"
    assert (flow["processingRule"], flow["processingRuleSource"]) == ("B2B", "Computed")
    assert flow["acknowledgement"] == {"status": "Ok"}
    assert flow["gateway"]["status"] == "received"

    status, meta, _ = await get_flow(gw, key, flow_id)
    assert status == 200 and meta["flowId"] == flow_id and meta["trackingId"] == "erp-0001"
    status, original, headers = await get_flow(gw, key, flow_id, docType="Original")
    assert status == 200 and original == raw
    assert headers["Content-Type"] == "application/octet-stream"
    assert headers["Content-Disposition"].startswith("attachment;filename=")
    status, err, _ = await get_flow(gw, key, flow_id, docType="Converted")
    assert status == 404 and err["errorCode"] == "MISSING_RESOURCE"

    # The client's processing rule is kept as given.
    again = french_invoice(corpus_dir, "ubl", number="FLOW-2")
    status, body = await submit(
        gw, key, again, {"name": "FLOW-2.xml", "flowSyntax": "UBL", "processingRule": "B2G"}
    )
    status, meta, _ = await get_flow(gw, key, body["flowId"])
    assert (meta["processingRule"], meta["processingRuleSource"]) == ("B2G", "Input")


async def test_the_acknowledgement_says_what_validation_and_duplicates_found(
    gw_factory: Any, corpus_dir: Path
) -> None:
    gw = await gw_factory()
    key = await gw.key("acme", "submit", "read")
    broken = french_invoice(corpus_dir, "cii", number="FLOW-BAD", rate="21")
    status, body = await submit(
        gw, key, broken, {"name": "bad.xml", "flowSyntax": "CII", "trackingId": "bad"}
    )
    assert status == 202, body
    status, flow, _ = await get_flow(gw, key, body["flowId"])
    ack = flow["acknowledgement"]
    assert ack["status"] == "Error" and flow["gateway"]["status"] == "invalid"
    assert any("BR-FR-16" in d["reasonMessage"] and d["level"] == "Error" for d in ack["details"])

    # The same invoice over POST /v1/documents, then as a flow again: duplicates across
    # channels; the duplicate flow is Error AlreadyExistingFlow, the original stays Ok.
    good = french_invoice(corpus_dir, "ubl", number="FLOW-DUP")
    original = await gw.receive(key, good)
    status, body = await submit(gw, key, good, {"name": "dup.xml", "flowSyntax": "UBL"})
    assert status == 202
    status, dup, _ = await get_flow(gw, key, body["flowId"])
    assert dup["acknowledgement"]["status"] == "Error"
    assert dup["acknowledgement"]["details"][0]["reasonCode"] == "AlreadyExistingFlow"
    assert dup["gateway"]["status"] == "duplicate"
    status, first, _ = await get_flow(gw, key, original["id"])
    assert first["acknowledgement"]["status"] == "Ok" and first["gateway"]["status"] == "received"

    # Declared syntax that is not the file's: FlowTypeError.
    other = french_invoice(corpus_dir, "cii", number="FLOW-SYN")
    status, body = await submit(gw, key, other, {"name": "s.xml", "flowSyntax": "UBL"})
    status, flow, _ = await get_flow(gw, key, body["flowId"])
    assert flow["acknowledgement"]["status"] == "Error"
    assert flow["acknowledgement"]["details"][0]["reasonCode"] == "FlowTypeError"

    status, found = await search(gw, key, {"where": {"ackStatus": "Error"}, "limit": 100})
    assert {r["flowId"] for r in found["results"]} >= {dup["flowId"], flow["flowId"]}
    assert all(r["acknowledgement"]["status"] == "Error" for r in found["results"])


async def test_a_factur_x_pdf_is_a_flow_stored_as_received(
    gw_factory: Any, corpus_dir: Path
) -> None:
    gw = await gw_factory()
    key = await gw.key("acme", "submit", "read")
    pdf = factur_x_pdf(french_invoice(corpus_dir, "cii", number="FLOW-PDF"))
    status, body = await submit(
        gw, key, pdf, {"name": "f.pdf", "flowSyntax": "Factur-X"}, ctype="application/pdf"
    )
    assert status == 202, body
    status, flow, _ = await get_flow(gw, key, body["flowId"])
    assert flow["flowSyntax"] == "Factur-X" and flow["acknowledgement"]["status"] == "Ok", flow
    status, original, _ = await get_flow(gw, key, body["flowId"], docType="Original")
    assert original == pdf
    # A PDF with no invoice inside is refused, nothing stored.
    before = await documents(gw, "acme")
    status, err = await submit(
        gw, key, factur_x_pdf(None), {"name": "e.pdf", "flowSyntax": "Factur-X"}
    )
    assert status == 422 and err["errorCode"] == "NO_INVOICE_IN_PDF", err
    assert await documents(gw, "acme") == before


async def test_a_cdar_flow_moves_the_invoice_and_its_ack_says_so(
    gw_factory: Any, corpus_dir: Path
) -> None:
    gw = await gw_factory()
    key, invoice_id = await sold_invoice(gw, corpus_dir)

    # The buyer's 204 handed in by a tenant that does not own the buyer: held, the invoice
    # unchanged, the flow's acknowledgement an access error.
    status, body = await submit(
        gw, key, cdar_example(corpus_dir, "4"), {"name": "204.xml", "flowSyntax": "CDAR"}
    )
    assert status == 202, body
    status, held, _ = await get_flow(gw, key, body["flowId"])
    assert held["flowSyntax"] == "CDAR" and held["flowType"] == "CustomerInvoiceLC"
    assert held["acknowledgement"]["status"] == "Error"
    assert held["acknowledgement"]["details"][0]["reasonCode"] == "InvoiceLCAccessDenied"
    assert (await gw.doc(key, invoice_id))["status"] == "delivered"

    # Once the tenant owns the buyer too (both parties on this platform), the 205 applies.
    await gw.participant("vendeur", f"0225:{BUYER}")
    status, body = await submit(
        gw, key, cdar_example(corpus_dir, "5"), {"name": "205.xml", "flowSyntax": "CDAR"}
    )
    status, applied, _ = await get_flow(gw, key, body["flowId"])
    assert applied["acknowledgement"] == {"status": "Ok"}, applied
    assert (await gw.doc(key, invoice_id))["canonical_status"] == "accepted"
    status, inv, _ = await get_flow(gw, key, invoice_id)
    assert inv["flowType"] == "CustomerInvoice" and inv["gateway"]["status"] == "accepted"
    codes = {(c["code"], c["state"]) for c in inv["gateway"]["lifecycle"]}
    assert {("204", "held"), ("205", "applied")} <= codes
    status, found = await search(gw, key, {"where": {"flowType": ["CustomerInvoiceLC"]}})
    assert {r["flowId"] for r in found["results"]} == {held["flowId"], applied["flowId"]}


async def test_tenants_see_only_their_flows(gw_factory: Any, corpus_dir: Path) -> None:
    gw = await gw_factory()
    a = await gw.key("tenant-a", "submit", "read")
    b = await gw.key("tenant-b", "submit", "read")
    raw = french_invoice(corpus_dir, "ubl", number="ISO-1")
    status, body = await submit(
        gw, a, raw, {"name": "a.xml", "flowSyntax": "UBL", "trackingId": "t1"}
    )
    assert status == 202
    status, err, _ = await get_flow(gw, b, body["flowId"])
    assert status == 404 and err["errorCode"] == "MISSING_RESOURCE"
    status, err, _ = await get_flow(gw, b, body["flowId"], docType="Original")
    assert status == 404
    status, found = await search(gw, b, {"where": {"trackingId": "t1"}})
    assert status == 200 and found["results"] == []
    status, found = await search(gw, b, {"where": {"flowDirection": ["In", "Out"]}})
    assert found["results"] == []
    # The same invoice from tenant B is no duplicate of A's (duplicates are per tenant).
    status, mine = await submit(gw, b, raw, {"name": "b.xml", "flowSyntax": "UBL"})
    status, flow, _ = await get_flow(gw, b, mine["flowId"])
    assert flow["acknowledgement"]["status"] == "Ok"
    # Organization-Id must be the key's own tenant.
    async with gw.http.get(
        f"{gw.url}{FLOWS}/{body['flowId']}",
        headers={"Authorization": f"Bearer {b}", "Organization-Id": "tenant-a"},
    ) as resp:
        assert resp.status == 403 and (await resp.json())["errorCode"] == "FORBIDDEN_ACCESS"


async def test_bad_input_gets_the_standards_error_and_loses_nothing(
    gw_factory: Any, corpus_dir: Path
) -> None:
    gw = await gw_factory()
    key = await gw.key("acme", "submit", "read")
    reader = await gw.key("acme", "read")
    raw = french_invoice(corpus_dir, "ubl", number="BAD-IN")
    cases = [
        (None, "MISSING_TOKEN", 401),
        ("gw_nope_nope", "INVALID_TOKEN", 401),
        (reader, "FORBIDDEN_ACCESS", 403),
    ]
    for token, code, want in cases:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        form = aiohttp.FormData()
        form.add_field("flowInfo", json.dumps({"name": "x", "flowSyntax": "UBL"}))
        form.add_field("file", raw, filename="x.xml", content_type="application/xml")
        async with gw.http.post(gw.url + FLOWS, data=form, headers=headers) as resp:
            assert resp.status == want and resp.content_type == "application/json"
            assert (await resp.json())["errorCode"] == code
    checks = [
        (b"<Invoice", {"name": "x", "flowSyntax": "UBL"}, 400, "NOT_WELL_FORMED"),
        (raw, {"name": "x", "flowSyntax": "UBL", "sha256": "0" * 64}, 422, "CHECKSUM_MISMATCH"),
        (raw, {"flowSyntax": "UBL"}, 400, "MISSING_REQUIRED_FIELD"),
        (raw, {"name": "x", "flowSyntax": "PDF"}, 400, "INVALID_FLOW_INFO"),
        (b"", {"name": "x", "flowSyntax": "UBL"}, 400, "EMPTY_FLOW"),
        (
            b'<!DOCTYPE x [<!ENTITY e "e">]><x>&e;</x>',
            {"name": "x", "flowSyntax": "UBL"},
            400,
            "FORBIDDEN_CONSTRUCT",
        ),
    ]
    for data, info, want, code in checks:
        status, err = await submit(gw, key, data, info)
        assert (status, err["errorCode"]) == (want, code), err
        assert err["errorMessage"] and err["instance"] == FLOWS
    assert await documents(gw, "acme") == 0  # nothing refused was stored

    status, err = await search(gw, key, {"where": {}})
    assert (status, err["errorCode"]) == (400, "MISSING_CRITERIA")
    status, err = await search(gw, key, {"where": {"ackStatus": "Ok"}, "cursor": "!!"})
    assert (status, err["errorCode"]) == (400, "INVALID_CURSOR")
    status, err = await search(gw, key, {"where": {"flowType": ["Nope"]}})
    assert (status, err["errorCode"]) == (400, "INVALID_CRITERIA")
    auth = {"Authorization": f"Bearer {key}"}
    async with gw.http.get(gw.url + "/afnor/flow-service/v1/nowhere", headers=auth) as resp:
        assert resp.status == 404 and (await resp.json())["errorCode"] == "MISSING_RESOURCE"
    async with gw.http.get(gw.url + "/afnor/flow-service/v1/healthcheck") as resp:
        assert resp.status == 200  # public
    # Our own API keeps problem+json.
    async with gw.http.get(gw.url + "/v1/documents/nope") as resp:
        assert resp.content_type == "application/problem+json"


async def test_search_pages_with_cursors(gw_factory: Any, corpus_dir: Path) -> None:
    gw = await gw_factory()
    key = await gw.key("acme", "submit", "read")
    ids = set()
    for n in range(3):
        raw = french_invoice(corpus_dir, "ubl", number=f"PAGE-{n}")
        status, body = await submit(gw, key, raw, {"name": f"{n}.xml", "flowSyntax": "UBL"})
        ids.add(body["flowId"])
    seen: list[str] = []
    body: dict[str, Any] = {"where": {"flowDirection": ["Out"]}, "limit": 1}
    for _ in range(5):
        status, page = await search(gw, key, body)
        assert status == 200 and len(page["results"]) <= 1
        seen += [r["flowId"] for r in page["results"]]
        if "nextCursor" not in page:
            break
        body["cursor"] = page["nextCursor"]
    assert sorted(seen) == sorted(ids) and len(seen) == 3
    # updatedAfter is strict: after the last one's update time, nothing.
    status, last, _ = await get_flow(gw, key, seen[-1])
    status, page = await search(gw, key, {"where": {"updatedAfter": last["updatedAt"]}})
    assert page["results"] == []


async def test_webhooks_deliver_signed_flows_to_their_tenant_only(
    gw_factory: Any, corpus_dir: Path
) -> None:
    gw = await gw_factory()
    a = await gw.key("tenant-a", "submit", "read", "admin")
    b = await gw.key("tenant-b", "submit", "read", "admin")
    hooks = f"{gw.url}/afnor/flow-service/v1/webhooks"

    async def call(method: str, key: str, url: str, body: Any = None) -> tuple[int, Any]:
        headers = {"Authorization": f"Bearer {key}"}
        async with gw.http.request(method, url, json=body, headers=headers) as resp:
            return resp.status, await body_of(resp)

    status, every = await call("POST", a, hooks, {"callbackUrl": gw.ap.url + "/every"})
    assert status == 201 and set(every) == {"webhookId", "signingKey", "createdAt"}
    assert len(base64.b64decode(every["signingKey"])) == 32
    status, errors = await call(
        "POST", a, hooks, {"callbackUrl": gw.ap.url + "/errors", "ackStatus": "Error"}
    )
    status, listed = await call("GET", a, hooks)
    assert listed["count"] == 2 and "signingKey" not in str(listed["webhooks"])
    assert set(listed["webhookIds"]) == {every["webhookId"], errors["webhookId"]}
    status, theirs = await call("GET", b, hooks)
    assert theirs["count"] == 0
    status, err = await call("DELETE", b, f"{hooks}/{every['webhookId']}")
    assert status == 404 and err["errorCode"] == "MISSING_RESOURCE"
    status, err = await call("POST", a, hooks, {"callbackUrl": "file:///etc/passwd"})
    assert (status, err["errorCode"]) == (400, "INVALID_CALLBACK_URL")

    raw = french_invoice(corpus_dir, "ubl", number="HOOK-1")
    status, body = await submit(gw, a, raw, {"name": "h.xml", "flowSyntax": "UBL"})
    assert status == 202
    await submit(
        gw,
        b,
        french_invoice(corpus_dir, "ubl", number="HOOK-B"),
        {"name": "b", "flowSyntax": "UBL"},
    )

    def delivered() -> list[int]:
        return [i for i, h in enumerate(gw.ap.headers) if "Afnor-Signature" in h]

    await until(lambda: len(delivered()) >= 1)
    await asyncio.sleep(0.3)  # nothing else comes: B has no webhook, the Error one does not match
    (i,) = delivered()
    sent, headers = gw.ap.bodies[i], gw.ap.headers[i]
    flow = json.loads(sent)
    assert flow["flowId"] == body["flowId"] and flow["acknowledgement"]["status"] == "Ok"
    assert verify(
        every["signingKey"], sent, headers["Afnor-Signature-Timestamp"], headers["Afnor-Signature"]
    )
    assert not verify(
        errors["signingKey"], sent, headers["Afnor-Signature-Timestamp"], headers["Afnor-Signature"]
    )
    assert "X-Gateway-Signature" not in headers
    # A key without the admin scope can neither list, subscribe nor unsubscribe.
    reader = await gw.key("tenant-a", "submit", "read")
    for method, url, payload in (
        ("GET", hooks, None),
        ("POST", hooks, {"callbackUrl": gw.ap.url + "/mine"}),
        ("DELETE", f"{hooks}/{every['webhookId']}", None),
    ):
        status, err = await call(method, reader, url, payload)
        assert (status, err["errorCode"]) == (403, "FORBIDDEN_ACCESS"), (method, err)
    assert (await call("GET", a, hooks))[1]["count"] == 2

    # An invalid invoice reaches both; after the unsubscription, only the Error one.
    status, _ = await call("DELETE", a, f"{hooks}/{every['webhookId']}")
    assert status == 204
    bad = french_invoice(corpus_dir, "cii", number="HOOK-2", rate="21")
    status, body = await submit(gw, a, bad, {"name": "bad", "flowSyntax": "CII"})
    await until(lambda: len(delivered()) >= 2)
    await asyncio.sleep(0.3)
    assert len(delivered()) == 2
    last = gw.ap.headers[delivered()[-1]]
    assert verify(
        errors["signingKey"],
        gw.ap.bodies[delivered()[-1]],
        last["Afnor-Signature-Timestamp"],
        last["Afnor-Signature"],
    )
    assert json.loads(gw.ap.bodies[delivered()[-1]])["acknowledgement"]["status"] == "Error"


async def test_oauth2_client_credentials_answer_the_key_as_the_token(gw_factory: Any) -> None:
    gw = await gw_factory()
    key = await gw.key("acme", "submit", "read")
    key_id, secret = key.removeprefix("gw_").split("_", 1)
    url = gw.url + "/afnor/flow-service/oauth2/token"
    grant = {"grant_type": "client_credentials"}
    basic = base64.b64encode(f"gw_{key_id}:{secret}".encode()).decode()
    async with gw.http.post(url, data=grant, headers={"Authorization": f"Basic {basic}"}) as r:
        assert r.status == 200 and r.headers["Cache-Control"] == "no-store"
        body = await r.json()
    assert body["token_type"] == "Bearer" and body["access_token"] == key
    assert body["scope"] == "read submit"
    form = {**grant, "client_id": key_id, "client_secret": secret}
    async with gw.http.post(url, data=form) as r:
        assert r.status == 200 and (await r.json())["access_token"] == key
    status, found = await search(gw, body["access_token"], {"where": {"ackStatus": "Ok"}})
    assert status == 200 and found["results"] == []
    for data, status, code in (
        ({**form, "client_secret": secret[:-1] + "x"}, 401, "invalid_client"),
        ({**form, "client_id": "gw_000000000000"}, 401, "invalid_client"),
        (grant, 401, "invalid_client"),
        ({**form, "grant_type": "password"}, 400, "unsupported_grant_type"),
    ):
        async with gw.http.post(url, data=data) as r:
            assert (r.status, (await r.json())["error"]) == (status, code)


async def test_a_received_cdar_is_announced_once_judged(gw_factory: Any, corpus_dir: Path) -> None:
    gw = await gw_factory()
    key = await gw.key("vendeur")
    await gw.participant("vendeur", f"0225:{SELLER}")
    hooks = f"{gw.url}/afnor/flow-service/v1/webhooks"
    lc = {"callbackUrl": gw.ap.url + "/lc", "flowTypes": ["CustomerInvoiceLC", "SupplierInvoiceLC"]}
    async with gw.http.post(hooks, json=lc, headers={"Authorization": f"Bearer {key}"}) as r:
        assert r.status == 201
        hook = await r.json()
    status, body = await submit(
        gw, key, cdar_example(corpus_dir, "4"), {"name": "c", "flowSyntax": "CDAR"}
    )
    assert status == 202

    def callbacks() -> list[int]:
        return [i for i, h in enumerate(gw.ap.headers) if "Afnor-Signature" in h]

    await until(lambda: len(callbacks()) >= 1)
    (i,) = callbacks()
    flow = json.loads(gw.ap.bodies[i])
    assert flow["flowId"] == body["flowId"] and flow["flowSyntax"] == "CDAR"
    # Judged before it was announced: held (REST by a tenant not owning the buyer), not Pending.
    assert flow["acknowledgement"]["status"] == "Error"
    assert flow["acknowledgement"]["details"][0]["reasonCode"] == "InvoiceLCAccessDenied"
    headers = gw.ap.headers[i]
    assert verify(
        hook["signingKey"],
        gw.ap.bodies[i],
        headers["Afnor-Signature-Timestamp"],
        headers["Afnor-Signature"],
    )


async def test_a_callback_url_inside_the_network_is_refused(gw_factory: Any) -> None:
    """Without ``[webhooks] allow_private_destinations``, loopback, private and metadata
    addresses are refused when subscribing (and again at each delivery)."""
    gw = await gw_factory(settings={"webhooks": {"allow_private_destinations": False}})
    key = await gw.key("acme", "admin")
    hooks = f"{gw.url}/afnor/flow-service/v1/webhooks"
    for url in ("http://127.0.0.1:8080/hook", "http://169.254.169.254/latest", "http://10.0.0.7/"):
        async with gw.http.post(
            hooks, json={"callbackUrl": url}, headers={"Authorization": f"Bearer {key}"}
        ) as r:
            assert r.status == 400 and (await r.json())["errorCode"] == "CALLBACK_URL_REFUSED"
    async with gw.http.get(hooks, headers={"Authorization": f"Bearer {key}"}) as r:
        assert (await r.json())["count"] == 0
