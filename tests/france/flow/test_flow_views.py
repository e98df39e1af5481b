"""Flow types of self-billed invoices, and the readable view of an XML flow.

- XP Z12-013's ``FlowType``: ``CustomerInvoice`` is a non-self-billed outgoing invoice or a
  self-billed incoming one, ``SupplierInvoice`` the other way round. The same French invoice
  handed in (an ``Out`` flow) with a self-billed type code (the French rules' "autofacture"
  codes, 389 for an invoice, 261 for a credit note) has the other flow type, in UBL and in CII;
  a received one (``In``) likewise.
- ``GET /v1/flows/{id}?docType=ReadableView`` of a UBL or CII flow is the gateway's PDF
  rendering (KoSIT's visualization, printed by chromium): a real PDF whose text carries the
  invoice's number; a CDAR flow has none (404 MISSING_RESOURCE, not an error page).
"""

from __future__ import annotations

import io
import re
from pathlib import Path
from typing import Any

import pytest
from pypdf import PdfReader

from gateway.france.flow import load_mapping
from gateway.inbound import Submission
from gateway.store import Document
from gateway.web import INTAKE
from tests.france.flow.client import cdar_example, get_flow, submit
from tests.french_invoices import BUYER_SIREN, french_invoice


def _typed(raw: bytes, syntax: str, code: str) -> bytes:
    if syntax == "ubl":
        old = b"<cbc:InvoiceTypeCode>380</cbc:InvoiceTypeCode>"
        new = f"<cbc:InvoiceTypeCode>{code}</cbc:InvoiceTypeCode>".encode()
    else:
        old, new = (
            b"<ram:TypeCode>380</ram:TypeCode>",
            f"<ram:TypeCode>{code}</ram:TypeCode>".encode(),
        )
    assert raw.count(old) == 1
    return raw.replace(old, new)


@pytest.mark.parametrize("syntax", ["ubl", "cii"])
async def test_self_billed_invoices_have_the_other_flow_type(
    gw_factory: Any, corpus_dir: Path, syntax: str
) -> None:
    gw = await gw_factory()
    key = await gw.key("acme", "submit", "read")
    flow_syntax = syntax.upper()
    types = {}
    for code in ("380", "389", "261"):
        raw = _typed(french_invoice(corpus_dir, syntax, number=f"SB-{code}"), syntax, code)
        status, body = await submit(
            gw, key, raw, {"name": f"{code}.xml", "flowSyntax": flow_syntax}
        )
        assert status == 202, body
        status, flow, _ = await get_flow(gw, key, body["flowId"])
        assert status == 200 and flow["flowDirection"] == "Out", flow
        types[code] = flow["flowType"]
    assert types == {
        "380": "CustomerInvoice",
        "389": "SupplierInvoice",
        "261": "SupplierInvoice",
    }


def test_a_received_self_billed_invoice_is_a_customer_invoice() -> None:
    """The other direction (a document the network delivered, e.g. over AS4), on the mapping."""
    m = load_mapping()
    received = Document(direction="inbound", channel="as4", kind="Invoice")
    assert m.direction_of(received) == "In"
    for code, expected in (
        ("380", "SupplierInvoice"),
        ("389", "CustomerInvoice"),
        (None, "SupplierInvoice"),
    ):
        report = {"document": {"type_code": code}}
        assert m.flow_type_of(received, None, report) == expected
    assert m.flow_type_of(received, None, None) == "SupplierInvoice"


async def test_the_messages_about_a_self_billed_invoice_have_its_flow_type(
    gw_factory: Any, corpus_dir: Path
) -> None:
    """A CDAR about an invoice is on the invoice's side: the buyer's 205 about an invoice the
    network delivered (an ``In`` SupplierInvoice) is a SupplierInvoiceLC flow; about a
    self-billed one (389: issued by the buyer's side, a CustomerInvoice) a CustomerInvoiceLC."""
    gw = await gw_factory()
    key = await gw.key("acheteur")
    await gw.participant("acheteur", f"0225:{BUYER_SIREN}")
    types = {}
    for code in ("380", "389"):
        raw = _typed(french_invoice(corpus_dir, number=f"SBLC-{code}"), "ubl", code)
        # Delivered by the network (routed by the buyer's participant id), not handed in.
        stored = await gw.app[INTAKE].submit(Submission(raw, channel="as4"))
        assert stored.tenant == "acheteur" and stored.status == "received", stored
        invoice = stored.document_id
        status, body = await gw.call(
            "POST", key, f"/v1/documents/{invoice}/status", json={"status": "approved"}
        )
        assert status == 200, body
        _, listed = await gw.call("GET", key, "/v1/france/cdar?direction=sent")
        (sent,) = [i for i in listed["items"] if i["invoice_id"] == invoice]
        assert sent["code"] == "205" and sent["document_id"], sent
        _, invoice_flow, _ = await get_flow(gw, key, invoice)
        status, cdar_flow, _ = await get_flow(gw, key, sent["document_id"])
        assert status == 200, cdar_flow
        assert invoice_flow["flowDirection"] == "In" and cdar_flow["flowDirection"] == "Out"
        types[code] = (invoice_flow["flowType"], cdar_flow["flowType"])
    assert types == {
        "380": ("SupplierInvoice", "SupplierInvoiceLC"),
        "389": ("CustomerInvoice", "CustomerInvoiceLC"),
    }


@pytest.fixture
def rendering_data_dir(tmp_path: Path, installed_data_dir: Path) -> Path:
    """A data dir whose artefacts (the visualization stylesheets) are the installed ones."""
    data = tmp_path / "rendering-data"
    data.mkdir()
    (data / "artefacts").symlink_to((installed_data_dir / "artefacts").resolve())
    return data


async def test_the_readable_view_of_an_xml_flow_is_its_pdf_rendering(
    gw_factory: Any, corpus_dir: Path, rendering_data_dir: Path
) -> None:
    gw = await gw_factory(settings={"data_dir": str(rendering_data_dir)})
    key = await gw.key("acme", "submit", "read")
    for syntax in ("ubl", "cii"):
        number = f"RV-{syntax.upper()}-1"
        raw = french_invoice(corpus_dir, syntax, number=number)
        status, body = await submit(
            gw, key, raw, {"name": f"{number}.xml", "flowSyntax": syntax.upper()}
        )
        assert status == 202, body
        status, pdf, headers = await get_flow(gw, key, body["flowId"], docType="ReadableView")
        assert status == 200, pdf
        # The standard's download type (FlowGetResponse), with a PDF file name.
        assert headers["Content-Type"] == "application/octet-stream"
        assert headers["Content-Disposition"].startswith("attachment;filename=")
        assert headers["Content-Disposition"].endswith('.pdf"'), headers["Content-Disposition"]
        assert pdf.startswith(b"%PDF-")
        text = "".join(page.extract_text() for page in PdfReader(io.BytesIO(pdf)).pages)
        # (the viewer's narrow value cells break the number over lines: compare without spaces)
        assert number in re.sub(r"\s", "", text) and "Invoice number" in text, text[:500]
        # The Original is still the XML as received.
        status, original, _ = await get_flow(gw, key, body["flowId"], docType="Original")
        assert (status, original) == (200, raw)
    status, body = await submit(
        gw, key, cdar_example(corpus_dir, "4"), {"name": "204.xml", "flowSyntax": "CDAR"}
    )
    assert status == 202, body
    status, err, _ = await get_flow(gw, key, body["flowId"], docType="ReadableView")
    assert status == 404 and err["errorCode"] == "MISSING_RESOURCE", err
