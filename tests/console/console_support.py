"""Helpers shared by the tests of this folder: invoices made from the Peppol base example and
the API's document count to compare pages against."""

from __future__ import annotations

from typing import Any


def invalid(base: bytes) -> bytes:
    """The Peppol base example with an unknown currency: stored as invalid (BR-CL-04)."""
    return base.replace(b'currencyID="EUR"', b'currencyID="EUX"').replace(
        b"<cbc:DocumentCurrencyCode>EUR<", b"<cbc:DocumentCurrencyCode>EUX<"
    )


def numbered(base: bytes, number: str) -> bytes:
    return base.replace(b"<cbc:ID>Snippet1</cbc:ID>", f"<cbc:ID>{number}</cbc:ID>".encode(), 1)


async def api_count(gw: Any, key: str, **filters: str) -> int:
    """How many documents ``GET /v1/documents`` lists for these filters (all pages)."""
    total, cursor = 0, ""
    while True:
        query = "&".join(
            f"{k}={v}" for k, v in {**filters, "limit": "2", "cursor": cursor}.items() if v
        )
        status, page = await gw.call("GET", key, f"/v1/documents?{query}")
        assert status == 200, page
        total += len(page["items"])
        if not page["next_cursor"]:
            return total
        cursor = page["next_cursor"]
