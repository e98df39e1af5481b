"""Shared AS4 test helpers (constants, SBD builder, stand-in intake, access point handles).

Kept out of ``conftest.py`` on purpose: several test folders have a conftest, and
``from conftest import ...`` would pick whichever one was imported last.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from gateway.as4 import As4Receiver, InboundMeta, RecipientNotServiced, Sbdh, wrap_sbdh

DOCTYPE = (
    "urn:oasis:names:specification:ubl:schema:xsd:Invoice-2::Invoice##urn:cen.eu:en16931:2017"
    "#compliant#urn:fdc:peppol.eu:2017:poacc:billing:3.0::2.1"
)
PROCESS = "urn:fdc:peppol.eu:2017:poacc:billing:01:1.0"
SERVED = "0088:5798000000001"  # a participant our gateway serves
PEER_SERVED = "0088:7300010000001"  # a participant the peer AP serves


def make_sbd(
    invoice: bytes, instance_id: str, sender: str = SERVED, receiver: str = PEER_SERVED, **kw: Any
) -> bytes:
    return wrap_sbdh(
        invoice,
        Sbdh(
            sender=sender,
            receiver=receiver,
            document_type_id=DOCTYPE,
            process_id=PROCESS,
            instance_id=instance_id,
            country_c1="DK",
            **kw,
        ),
    )


@dataclass
class Intake:
    """Stand-in for the gateway intake: records deliveries, refuses unknown recipients."""

    served: set[str] = field(default_factory=lambda: {SERVED})
    delivered: list[tuple[bytes, InboundMeta]] = field(default_factory=list)
    fail: bool = False

    async def __call__(self, document: bytes, meta: InboundMeta) -> None:
        if self.fail:
            raise RuntimeError("database unavailable")
        if meta.sbdh.receiver not in self.served:
            raise RecipientNotServiced(meta.sbdh.receiver)
        self.delivered.append((document, meta))


@dataclass
class OurAp:
    receiver: As4Receiver
    intake: Intake
    url: str
    client: Any


@dataclass
class PeerAp:
    """A receiving AP built on the PyPI ``as4`` package."""

    url: str
    received: list[dict[str, bytes]] = field(default_factory=list)
    served: set[str] = field(default_factory=lambda: {PEER_SERVED})
    signals: list[bytes] = field(default_factory=list)
