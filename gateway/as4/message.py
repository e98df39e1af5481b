"""Outbound ebMS UserMessage: Peppol PMode values, gzip, sign, encrypt, MIME package."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from functools import lru_cache

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from lxml import etree

from gateway.as4 import mime, ns
from gateway.as4.compression import gzip_bytes
from gateway.as4.envelope import Skeleton, new_id
from gateway.as4.identity import Identity, common_name
from gateway.as4.sbdh import Sbdh, SbdhError, read_header
from gateway.as4.wssec import Ref, add_bst, encrypt_attachments, sign, sub
from gateway.documents import ParseLimits, XmlRefused, parse_xml


@dataclass
class OutboundMessage:
    message_id: str
    conversation_id: str
    body: bytes
    content_type: str
    #: what we signed; a receipt must acknowledge exactly these
    signed: list[Ref]
    sbdh: Sbdh

    @property
    def headers(self) -> dict[str, str]:
        return {"Content-Type": self.content_type, "MIME-Version": "1.0"}


@lru_cache(maxsize=256)
def _receiver(cert: x509.Certificate) -> tuple[bytes, str]:
    """A receiving AP's certificate as DER and its CN: the same for each message to it."""
    return cert.public_bytes(serialization.Encoding.DER), common_name(cert)


def sbdh_of(sbd: bytes, max_bytes: int = 100 * 1024 * 1024) -> Sbdh:
    try:
        root = parse_xml(sbd, ParseLimits(max_bytes=max_bytes)).getroot()
    except XmlRefused as exc:
        raise SbdhError(f"payload is not acceptable XML: {exc.message}") from exc
    return read_header(root)


def build_user_message(
    identity: Identity,
    receiver_cert: x509.Certificate,
    sbd: bytes,
    *,
    message_id: str,
    receiver_party_id: str | None = None,
    conversation_id: str | None = None,
    header: Sbdh | None = None,
    timestamp: datetime | None = None,
) -> OutboundMessage:
    """Build the complete signed+encrypted AS4 request for one SBD.

    ``message_id`` is caller-supplied so a retry reuses it (the receiver's duplicate
    elimination depends on it); the SBD, and so its InstanceIdentifier, is reused as well.
    """
    header = header or sbdh_of(sbd)
    receiver_der, receiver_cn = _receiver(receiver_cert)
    conversation_id = conversation_id or str(uuid.uuid5(uuid.NAMESPACE_URL, message_id))
    sk = Skeleton()
    um = sub(sk.messaging, ns.EB, "UserMessage")
    sk.message_info(um, message_id, at=timestamp)
    pi = sub(um, ns.EB, "PartyInfo")
    for tag, party, role in (
        ("From", identity.party_id, ns.ROLE_INITIATOR),
        ("To", receiver_party_id or receiver_cn, ns.ROLE_RESPONDER),
    ):
        el = sub(pi, ns.EB, tag)
        sub(el, ns.EB, "PartyId", party, type=ns.PEPPOL_PARTY_TYPE)
        sub(el, ns.EB, "Role", role)
    ci = sub(um, ns.EB, "CollaborationInfo")
    sub(ci, ns.EB, "AgreementRef", ns.PEPPOL_AGREEMENT)
    sub(ci, ns.EB, "Service", header.process_id, type=header.process_scheme)
    sub(ci, ns.EB, "Action", f"{header.document_type_scheme}::{header.document_type_id}")
    sub(ci, ns.EB, "ConversationId", conversation_id)
    mp = sub(um, ns.EB, "MessageProperties")
    sub(mp, ns.EB, "Property", header.sender, name="originalSender", type=header.sender_scheme)
    sub(mp, ns.EB, "Property", header.receiver, name="finalRecipient", type=header.receiver_scheme)
    cid = f"{new_id('att')}@gateway.as4"
    pay = sub(um, ns.EB, "PayloadInfo")
    part = sub(pay, ns.EB, "PartInfo", href="cid:" + cid)
    props = sub(part, ns.EB, "PartProperties")
    sub(props, ns.EB, "Property", "application/xml", name="MimeType")
    sub(props, ns.EB, "Property", "application/gzip", name="CompressionType")

    compressed = gzip_bytes(sbd)
    receiver_bst = f"X509-{uuid.uuid4().hex[:16]}"
    add_bst(sk.security, receiver_der, receiver_bst)
    add_bst(sk.security, identity.certificate_der, sk.bst_id)
    ciphertexts = encrypt_attachments(sk.security, receiver_cert, receiver_bst, {cid: compressed})
    signed = sign(
        sk.security, identity.private_key, sk.bst_id, [sk.messaging, sk.body], {cid: compressed}
    )
    soap = etree.tostring(sk.root, xml_declaration=True, encoding="UTF-8")
    body, content_type = mime.build(soap, [(cid, ciphertexts[cid], "application/octet-stream")])
    return OutboundMessage(message_id, conversation_id, body, content_type, signed, header)
