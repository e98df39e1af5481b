"""C4 (the receiving end user's country) from data we have, in a defined order: the country
registered for the receiving participant, then the tenant's, then the buyer's address in the
document, then ``[as4] country`` (a guess); each reporting row says which, registering a
country takes over guessed rows, and the admin correction wins."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from gateway.as4 import PeppolReportRow
from tests.as4_integration.as4int_support import BUYER, Node, StartNode, message


async def post(node: Node, msg: Any) -> int:
    body, boundary = msg.get_request_data()
    async with node.http.post(
        node.url + "/as4", data=body, headers=msg.get_http_headers(boundary)
    ) as resp:
        return resp.status


async def c4_of(node: Node) -> list[tuple[str, str, str]]:
    async with node.db.read() as s:
        rows = await s.scalars(select(PeppolReportRow).order_by(PeppolReportRow.seq))
        return [(r.message_id, r.country_c4, r.c4_source) for r in rows]


async def test_c4_comes_from_registration_then_document_then_config(
    start_node: StartNode, peer_party: Any, gateway_party: Any, invoice: bytes
) -> None:
    node = await start_node("ours", "POP000001")  # [as4] country = "NO"
    await node.serve("acme", BUYER)
    await node.serve("acme", "0088:other")
    auth = {"Authorization": f"Bearer {await node.key('acme', 'admin')}"}
    no_country = invoice.replace(b"<cbc:IdentificationCode>SE</cbc:IdentificationCode>", b"", 1)
    assert no_country != invoice

    async def receive(doc: bytes, n: int) -> str:
        msg = message(peer_party, gateway_party, doc, instance_id=f"c4-{n}")
        assert await post(node, msg) == 200
        return msg.message_id

    async def put(path: str, body: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        async with node.http.put(node.url + path, json=body, headers=auth) as resp:
            return resp.status, await resp.json()

    # Nothing registered: the buyer's address (SE), else the configured guess (NO).
    from_doc, guessed = await receive(invoice, 1), await receive(no_country, 2)
    assert await c4_of(node) == [(from_doc, "SE", "document"), (guessed, "NO", "config")]
    async with node.http.get(
        node.url + "/v1/admin/reporting/c4-unknown?guessed=true", headers=auth
    ) as resp:
        listed = (await resp.json())["documents"]
    assert [(d["message_id"], d["c4_source"]) for d in listed] == [(guessed, "config")]

    # The tenant registers its country: it comes before the document, and takes over the guess.
    assert await put("/v1/admin/reporting/countries", {"country": "fi"}) == (
        200,
        {"participant": None, "country": "FI", "updated_rows": 1},
    )
    tenant_level = await receive(invoice, 3)
    # One participant's own registration comes first of all.
    status, _ = await put("/v1/admin/reporting/countries", {"country": "DK", "participant": BUYER})
    assert status == 200
    participant_level = await receive(invoice, 4)
    assert await c4_of(node) == [
        (from_doc, "SE", "document"),  # the document said so: kept
        (guessed, "FI", "tenant"),
        (tenant_level, "FI", "tenant"),
        (participant_level, "DK", "participant"),
    ]
    async with node.http.get(node.url + "/v1/admin/reporting/countries", headers=auth) as resp:
        assert (await resp.json())["countries"] == [
            {"participant": None, "country": "FI"},
            {"participant": BUYER.lower(), "country": "DK"},
        ]

    # Not a participant of this tenant; not a country.
    assert (await put("/v1/admin/reporting/countries", {"country": "DK", "participant": "9:x"}))[
        0
    ] == 404
    assert (await put("/v1/admin/reporting/countries", {"country": "Denmark"}))[0] == 400
    # Another tenant's admin sees and changes none of it.
    other = {"Authorization": f"Bearer {await node.key('other', 'admin')}"}
    async with node.http.get(node.url + "/v1/admin/reporting/countries", headers=other) as resp:
        assert (await resp.json())["countries"] == []

    # The admin correction of one document wins over everything.
    async with node.db.read() as s:
        doc_id = await s.scalar(
            select(PeppolReportRow.document_id).where(PeppolReportRow.message_id == from_doc)
        )
    assert (await put(f"/v1/admin/reporting/c4/{doc_id}", {"country": "IS"}))[0] == 200
    assert (await c4_of(node))[0] == (from_doc, "IS", "admin")
    status, body = await put("/v1/admin/reporting/countries", {"country": "EE"})
    assert (status, body["updated_rows"]) == (200, 0)  # nothing guessed is left to take over
