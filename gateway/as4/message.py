"""Outbound ebMS UserMessage: Peppol PMode values, gzip, sign, encrypt, MIME package.

The envelope is laid out once (:func:`layout`, with slots for every per-message value) and
copied per message (``gateway.as4.prototype``); what is computed per message is protocol
work: gzip, the AES-GCM and RSA-OAEP encryption, the exclusive-C14N digests and the RSA
signature.
"""

from __future__ import annotations

import base64
import uuid
from dataclasses import dataclass
from datetime import datetime
from functools import cache, lru_cache

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from lxml import etree

from gateway.as4 import mime, ns
from gateway.as4.compression import gzip_bytes
from gateway.as4.envelope import Skeleton, new_id, utc_timestamp
from gateway.as4.identity import Identity, common_name
from gateway.as4.prototype import Prototype, Slots
from gateway.as4.sbdh import Sbdh, SbdhError, read_header
from gateway.as4.wssec import (
    Ref,
    add_bst,
    c14n,
    digest_b64,
    encryption_layout,
    random_id,
    seal_encryption,
    seal_signature,
    signature_layout,
    sub,
)
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
def _certificate(cert: x509.Certificate) -> tuple[str, str]:
    """A certificate's BinarySecurityToken text (base64 DER) and its CN: the same for every
    message to (or from) that access point."""
    der = cert.public_bytes(serialization.Encoding.DER)
    return base64.b64encode(der).decode("ascii"), common_name(cert)


def sbdh_of(sbd: bytes, max_bytes: int = 100 * 1024 * 1024) -> Sbdh:
    try:
        root = parse_xml(sbd, ParseLimits(max_bytes=max_bytes)).getroot()
    except XmlRefused as exc:
        raise SbdhError(f"payload is not acceptable XML: {exc.message}") from exc
    return read_header(root)


def layout(slot: Slots) -> etree._Element:
    """The UserMessage envelope of the Peppol AS4 profile, each per-message value a slot;
    the EncryptedKey's CipherValue, the digests and the SignatureValue are left empty for
    :func:`seal_encryption` and :func:`seal_signature`."""
    sk = Skeleton((slot("messaging_id"), slot("body_id"), slot("bst_id")))
    slot.mark(sk.security, "security")
    slot.mark(sk.messaging, "messaging")
    slot.mark(sk.body, "body")
    um = sub(sk.messaging, ns.EB, "UserMessage")
    sk.message_info(um, slot("message_id"), at=slot("timestamp"))
    pi = sub(um, ns.EB, "PartyInfo")
    for tag, party, role in (
        ("From", slot("from"), ns.ROLE_INITIATOR),
        ("To", slot("to"), ns.ROLE_RESPONDER),
    ):
        el = sub(pi, ns.EB, tag)
        sub(el, ns.EB, "PartyId", party, type=ns.PEPPOL_PARTY_TYPE)
        sub(el, ns.EB, "Role", role)
    ci = sub(um, ns.EB, "CollaborationInfo")
    sub(ci, ns.EB, "AgreementRef", ns.PEPPOL_AGREEMENT)
    sub(ci, ns.EB, "Service", slot("service"), type=slot("service_type"))
    sub(ci, ns.EB, "Action", slot("action"))
    sub(ci, ns.EB, "ConversationId", slot("conversation_id"))
    mp = sub(um, ns.EB, "MessageProperties")
    sub(mp, ns.EB, "Property", slot("sender"), name="originalSender", type=slot("sender_type"))
    sub(mp, ns.EB, "Property", slot("receiver"), name="finalRecipient", type=slot("receiver_type"))
    pay = sub(um, ns.EB, "PayloadInfo")
    part = sub(pay, ns.EB, "PartInfo", href="cid:" + slot("cid"))
    props = sub(part, ns.EB, "PartProperties")
    sub(props, ns.EB, "Property", "application/xml", name="MimeType")
    sub(props, ns.EB, "Property", "application/gzip", name="CompressionType")

    add_bst(sk.security, slot("receiver_bst"), slot("receiver_bst_id"))
    add_bst(sk.security, slot("bst"), sk.bst_id)
    encryption_layout(
        sk.security, slot("receiver_bst_id"), [slot("cid")], (slot("ek_id"), [slot("ed_id")])
    )
    references = [
        ("#" + slot("messaging_id"), ns.EXC_C14N),
        ("#" + slot("body_id"), ns.EXC_C14N),
        ("cid:" + slot("cid"), ns.SWA_CONTENT_SIGNATURE),
    ]
    ids = (slot("sig_id"), slot("ki_id"), slot("str_id"))
    slot.mark(signature_layout(sk.security, sk.bst_id, references, ids), "signature")
    return sk.root


@cache
def prototype() -> Prototype:
    return Prototype(layout)


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
    conversation_id = conversation_id or str(uuid.uuid5(uuid.NAMESPACE_URL, message_id))
    receiver_bst, receiver_cn = _certificate(receiver_cert)
    values = message_values(
        identity, header, message_id, conversation_id, receiver_party_id or receiver_cn
    )
    values["timestamp"] = utc_timestamp(timestamp)
    values["receiver_bst"] = receiver_bst
    built = prototype().make(values)
    marks = built.marks
    compressed = gzip_bytes(sbd)
    cid = values["cid"]
    ciphertexts = seal_encryption(marks["security"], receiver_cert, {cid: compressed})
    digests = [digest_b64(c14n(marks["messaging"])), digest_b64(c14n(marks["body"]))]
    signed = seal_signature(
        marks["signature"], identity.private_key, [*digests, digest_b64(compressed)]
    )
    soap = etree.tostring(built.root, xml_declaration=True, encoding="UTF-8")
    body, content_type = mime.build(soap, [(cid, ciphertexts[cid], "application/octet-stream")])
    return OutboundMessage(message_id, conversation_id, body, content_type, signed, header)


def message_values(
    identity: Identity, header: Sbdh, message_id: str, conversation_id: str, to_party: str
) -> dict[str, str]:
    """The slots of :func:`layout` but the timestamp and the receiver's token; fresh ids."""
    return {
        "messaging_id": new_id("_eb"),
        "body_id": new_id("_body"),
        "bst_id": random_id("X509"),
        "receiver_bst_id": f"X509-{uuid.uuid4().hex[:16]}",
        "message_id": message_id,
        "from": identity.party_id,
        "to": to_party,
        "service": header.process_id,
        "service_type": header.process_scheme,
        "action": f"{header.document_type_scheme}::{header.document_type_id}",
        "conversation_id": conversation_id,
        "sender": header.sender,
        "sender_type": header.sender_scheme,
        "receiver": header.receiver,
        "receiver_type": header.receiver_scheme,
        "cid": f"{new_id('att')}@gateway.as4",
        "bst": _certificate(identity.certificate)[0],
        "ek_id": random_id("EK"),
        "ed_id": random_id("ED"),
        "sig_id": random_id("SIG"),
        "ki_id": random_id("KI"),
        "str_id": random_id("STR"),
    }
