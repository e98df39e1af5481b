"""SOAP 1.2 / ebMS 3.0 envelope construction and parsing helpers shared by messages and signals."""

from __future__ import annotations

import os
import uuid
from datetime import UTC, datetime

from lxml import etree

from gateway.as4 import ns
from gateway.as4.wssec import q, sub
from gateway.documents import ParseLimits, XmlRefused, parse_xml

_MU = q(ns.S12, "mustUnderstand")


def utc_timestamp(at: datetime | None = None) -> str:
    return (
        (at or datetime.now(UTC))
        .astimezone(UTC)
        .isoformat(timespec="milliseconds")
        .replace("+00:00", "Z")
    )


def parse_timestamp(text: str) -> datetime:
    value = datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def new_id(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4()}"


def new_message_id() -> str:
    """An ebMS MessageId (RFC 2822 msg-id shape, without angle brackets)."""
    return f"{uuid.uuid4()}@gateway.as4"


class Skeleton:
    """env:Envelope with env:Header (wsse:Security, eb:Messaging) and an empty env:Body."""

    def __init__(self, ids: tuple[str, str, str] | None = None) -> None:
        """``ids``: the wsu:Ids of eb:Messaging, env:Body and our BinarySecurityToken (fresh
        ones by default; a message prototype lays them out as slots)."""
        messaging_id, body_id, self.bst_id = ids or (
            new_id("_eb"),
            new_id("_body"),
            f"X509-{os.urandom(8).hex()}",
        )
        self.root = etree.Element(q(ns.S12, "Envelope"), nsmap=ns.NSMAP)
        self.header = sub(self.root, ns.S12, "Header")
        self.security = sub(self.header, ns.WSSE, "Security", **{_MU: "true"})
        self.messaging = sub(
            self.header, ns.EB, "Messaging", **{_MU: "true", ns.WSU_ID: messaging_id}
        )
        self.body = sub(self.root, ns.S12, "Body", **{ns.WSU_ID: body_id})

    def message_info(
        self,
        parent: etree._Element,
        message_id: str,
        ref_to: str | None = None,
        at: datetime | str | None = None,
    ) -> etree._Element:
        """``at``: a time, or the Timestamp's text (a prototype's slot); default now."""
        mi = sub(parent, ns.EB, "MessageInfo")
        sub(mi, ns.EB, "Timestamp", at if isinstance(at, str) else utc_timestamp(at))
        sub(mi, ns.EB, "MessageId", message_id)
        if ref_to:
            sub(mi, ns.EB, "RefToMessageId", ref_to)
        return mi

    def tostring(self) -> bytes:
        return etree.tostring(self.root, xml_declaration=True, encoding="UTF-8")


def parse_soap(data: bytes, max_bytes: int) -> etree._Element:
    """Parse with the gateway's safe parser (no DTD/entities/network); raise XmlRefused."""
    return parse_xml(data, ParseLimits(max_bytes=max_bytes, max_depth=64)).getroot()


__all__ = [
    "Skeleton",
    "XmlRefused",
    "new_id",
    "new_message_id",
    "parse_soap",
    "parse_timestamp",
    "utc_timestamp",
]
