"""A client of the AFNOR Flow API for tests, and the set-up the CDAR flow tests share.

The constants name the parties and the invoice of the official CDAR examples
(``../shared/corpus/france-cdar``, use case UC1 of invoice F202500003); :func:`sold_invoice`
is their common start: the seller's tenant on a real gateway has sent that invoice and the
buyer's platform (the loopback access point) has it.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import aiohttp
from sqlalchemy import func, select

from gateway.store import Document
from tests.french_invoices import french_invoice

SELLER, BUYER = "100000009", "200000008"
NUMBER = "F202500003"
FLOWS = "/afnor/flow-service/v1/flows"
UC1 = "UC1_F202500003_0{}"


def cdar_example(corpus: Path, step: str) -> bytes:
    """The official CDAR of UC1 step ``step`` (e.g. "5": the buyer's 205 Approuvée)."""
    return next((corpus / "france-cdar").glob(f"{UC1.format(step)}*.xml")).read_bytes()


async def sold_invoice(gw: Any, corpus: Path) -> tuple[str, str]:
    """(key, invoice id): tenant ``vendeur`` owns the seller and has sent invoice NUMBER,
    delivered to the buyer's access point."""
    key = await gw.key("vendeur")
    await gw.participant("vendeur", f"0225:{SELLER}")
    invoice = french_invoice(
        corpus, number=NUMBER, issue_date="2025-07-01", seller_siren=SELLER, buyer_siren=BUYER
    )
    return key, await gw.send_invoice(key, invoice)


async def submit(
    gw: Any, key: str, raw: bytes, info: dict[str, Any], *, ctype: str = "application/xml"
) -> tuple[int, Any]:
    form = aiohttp.FormData()
    form.add_field("flowInfo", json.dumps(info), content_type="application/json")
    form.add_field("file", raw, filename=info.get("name", "f"), content_type=ctype)
    headers = {"Authorization": f"Bearer {key}"}
    async with gw.http.post(gw.url + FLOWS, data=form, headers=headers) as resp:
        return resp.status, await body_of(resp)


async def body_of(resp: aiohttp.ClientResponse) -> Any:
    if resp.content_type == "application/json":
        return await resp.json()
    return await resp.read()


async def search(gw: Any, key: str, body: dict[str, Any]) -> tuple[int, Any]:
    headers = {"Authorization": f"Bearer {key}"}
    async with gw.http.post(f"{gw.url}{FLOWS}/search", json=body, headers=headers) as r:
        return r.status, await body_of(r)


async def get_flow(gw: Any, key: str, flow_id: str, **params: str) -> tuple[int, Any, Any]:
    headers = {"Authorization": f"Bearer {key}"}
    async with gw.http.get(f"{gw.url}{FLOWS}/{flow_id}", params=params, headers=headers) as r:
        return r.status, await body_of(r), r.headers


async def documents(gw: Any, tenant: str) -> int:
    async with gw.db.read() as s:
        return int(await s.scalar(select(func.count()).where(Document.tenant == tenant)) or 0)
