"""Helpers shared by the tests of this folder (not in conftest: ``from conftest import`` may
resolve to another folder's conftest when several test folders run together)."""

from __future__ import annotations

import socket
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
from aiohttp import web
from as4.peppol import build_peppol_message
from sqlalchemy import func, select

from gateway.config import load_settings
from gateway.store import Database, Document, StatusChange, repo
from gateway.web import DB

BIS_DOCTYPE = (
    "urn:oasis:names:specification:ubl:schema:xsd:Invoice-2::Invoice##urn:cen.eu:en16931:2017"
    "#compliant#urn:fdc:peppol.eu:2017:poacc:billing:3.0::2.1"
)
BIS_PROCESS = "urn:fdc:peppol.eu:2017:poacc:billing:01:1.0"
#: Buyer / seller endpoints of peppol-bis-examples/base-example.xml.
BUYER = "0002:FR23342"
SELLER = "0088:9482348239847239874"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Node:
    """One running gateway (create_app + aiohttp server on loopback)."""

    app: web.Application
    url: str
    http: aiohttp.ClientSession

    @property
    def db(self) -> Database:
        return self.app[DB]

    async def serve(self, tenant: str, participant: str) -> None:
        async with self.db.write() as s:
            await repo.add_participant(s, tenant, participant)

    async def key(self, tenant: str, *scopes: str) -> str:
        async with self.db.write() as s:
            _, plaintext = await repo.create_api_key(s, tenant, scopes or ("submit", "read"))
        return plaintext

    async def operator_key(self, tenant: str = "ops") -> str:
        """A cross-tenant operator key (``gateway keys create --operator``)."""
        async with self.db.write() as s:
            _, plaintext = await repo.create_api_key(s, tenant, ("read",), operator=True)
        return plaintext

    async def documents(self, direction: str = "inbound") -> list[Document]:
        async with self.db.read() as s:
            return list(
                await s.scalars(
                    select(Document).where(Document.direction == direction).order_by(Document.seq)
                )
            )

    async def history(self, doc_id: str) -> list[StatusChange]:
        async with self.db.read() as s:
            return await repo.history(s, doc_id)

    async def count(self, table: Any) -> int:
        async with self.db.read() as s:
            return int(await s.scalar(select(func.count()).select_from(table)) or 0)


StartNode = Callable[..., Awaitable[Node]]


async def post_as4(node: Node, msg: Any) -> tuple[int, bytes]:
    """POST a built AS4 message to ``node``'s ``/as4``: (HTTP status, answer)."""
    body, boundary = msg.get_request_data()
    async with node.http.post(
        node.url + "/as4", data=body, headers=msg.get_http_headers(boundary)
    ) as resp:
        return resp.status, await resp.read()


async def send(node: Node, key: str, raw: bytes) -> str:
    """Submit ``raw`` to ``POST /v1/outbound`` with ``key``; the new document's id (202)."""
    async with node.http.post(
        node.url + "/v1/outbound",
        data=raw,
        headers={"Authorization": f"Bearer {key}", "Content-Type": "application/xml"},
    ) as resp:
        body = await resp.json()
        assert resp.status == 202, body
        return str(body["id"])


def node_settings(
    base: Path,
    pem_dir: Path,
    who: str,
    party: str,
    port: int,
    routes: list[dict[str, str]] | None = None,
    **as4: Any,
) -> Any:
    return load_settings(
        env={},
        overrides={
            "data_dir": str(base / f"data-{who}"),
            "http": {"host": "127.0.0.1", "port": port},
            "as4": {
                "party_id": party,
                "key_file": str(pem_dir / f"{who}.key"),
                "cert_file": str(pem_dir / f"{who}.crt"),
                "trust_anchors": [str(pem_dir / "root.crt")],
                "intermediates": [str(pem_dir / "ca.crt")],
                "country": "NO",
                **as4,
            },
            "outbound": {
                "retry_initial": 0.2,
                "retry_max": 0.5,
                "poll_interval": 0.05,
                "request_timeout": 10.0,
                "sml": "off",
                "workers": 4,
            },
            "webhooks": {  # loopback receivers
                "retry_initial": 0.05,
                "retry_max": 0.2,
                "max_attempts": 2,
                "allow_private_destinations": True,
            },
            "reporting": {"schedule": False},  # tests send reports explicitly
            "routes": routes or [],
        },
    )


@dataclass
class PeerAp:
    url: str = ""
    #: "ok" answers with a receipt; "down" parses (to log ids) and answers HTTP 503.
    mode: str = "ok"
    served: set[str] = field(default_factory=lambda: {BUYER.lower()})
    #: (ebMS MessageId, decrypted SBD) of every message that reached the handler.
    attempts: list[tuple[str, bytes]] = field(default_factory=list)
    received: list[tuple[str, bytes]] = field(default_factory=list)


def message(
    peer_party: Any,
    gateway_party: Any,
    invoice: bytes,
    *,
    recipient: str = BUYER,
    instance_id: str | None = None,
) -> Any:
    return build_peppol_message(
        invoice,
        local_party=peer_party,
        remote_party=gateway_party,
        sender=SELLER,
        recipient=recipient,
        document_type_identifier_scheme="busdox-docid-qns",
        document_type_identifier_value=BIS_DOCTYPE,
        process_identifier=BIS_PROCESS,
        sender_country_id="GB",
        document_identification_instance_identifier=instance_id,
    )
