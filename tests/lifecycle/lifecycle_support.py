"""Helpers shared by the tests of this folder: the parties of the Peppol base example and an
invoice response (IMR) between them."""

from __future__ import annotations

from gateway.documents import Party
from gateway.responses import ResponseContent, build_response

SELLER = "0196:6841569459"
BUYER = "0196:6963495890"


def response(code: str, imr_id: str, number: str) -> bytes:
    return build_response(
        ResponseContent(
            imr_id=imr_id,
            issue_date="2024-02-01",
            code=code,
            sender=Party(endpoint=BUYER, name="Buyer organization"),
            receiver=Party(endpoint=SELLER, name="Seller company"),
            invoice_number=number,
            invoice_type_code="380",
        )
    )
