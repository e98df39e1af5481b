"""One AS4 message, unpacked and checked on its own: structure, signature, payload.

These are the receiver's synchronous, CPU-only stages (:mod:`gateway.as4.receiver` runs the
large ones in a worker thread): :func:`open_message` reads the MIME package, the SOAP envelope,
the ebMS header and the signer's certificate without verifying anything; once the receiver has
decided the signer is trusted, :func:`verify_message` checks the signature (bounded by
:class:`~gateway.as4.wssec.SignatureBudget`) and that it covers the header, the body and every
payload; :func:`decrypt_payload` decrypts, checks the attachment digests and inflates the
payload within :class:`As4Limits`. Nothing here knows about trust stores, duplicates or
delivery.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from cryptography import x509
from lxml import etree

from gateway.as4 import mime, ns
from gateway.as4.compression import DecompressionError, gunzip_capped
from gateway.as4.envelope import XmlRefused, parse_soap, parse_timestamp
from gateway.as4.errors import EbmsError, failed_authentication, failed_decryption, invalid_header
from gateway.as4.wssec import (
    DecryptionError,
    SignatureBudget,
    SignatureError,
    VerifiedSignature,
    decrypt_attachments,
    digest_b64,
    find_signature,
    index_ids,
    q,
    verify,
)

#: Room for the SBDH around the business document when capping decompression at the
#: validation limit (a Peppol SBDH is ~2 KB; the business scopes can add a few more).
SBDH_ALLOWANCE = 64 * 1024


@dataclass(frozen=True)
class As4Limits:
    max_message_bytes: int = 50 * 1024 * 1024
    max_decompressed_bytes: int = 100 * 1024 * 1024
    clock_skew_seconds: float = 300.0
    signature: SignatureBudget = field(default_factory=SignatureBudget)

    @classmethod
    def from_settings(cls, as4: Any, validation: Any | None = None) -> As4Limits:
        """``validation`` caps decompression: a payload larger than the validator accepts would
        only be stored as ``too-large`` (issue 14: a trusted peer's 104 KB message inflated to a
        94 MB document and 583 MB of memory), so it is refused while inflating instead."""
        cap = as4.max_decompressed_bytes
        if validation is not None:
            cap = min(cap, validation.max_bytes + SBDH_ALLOWANCE)
        budget = SignatureBudget(
            max_references=as4.max_signature_references,
            max_c14n_bytes=2 * as4.max_message_bytes,
        )
        return cls(as4.max_message_bytes, cap, as4.clock_skew_seconds, budget)


@dataclass
class Opened:
    root: etree._Element
    user_message: etree._Element
    message_id: str
    attachments: dict[str, bytes]
    signer: x509.Certificate
    signature_element: etree._Element
    from_party: str
    to_party: str
    timestamp: datetime
    #: set by :func:`verify_message`, once the signer is trusted
    verified: VerifiedSignature | None = None

    @property
    def signature(self) -> VerifiedSignature:
        assert self.verified is not None, "signature used before it was verified"
        return self.verified


def eb(el: etree._Element, path: str) -> str:
    parts = "/".join(f"{{{ns.EB}}}{p}" for p in path.split("/"))
    return (el.findtext(parts) or "").strip()


def open_message(body: bytes, content_type: str, limits: As4Limits) -> Opened:
    """Stage 1: the MIME package, SOAP envelope, ebMS header and the signer's certificate
    (nothing is verified yet; CPU only)."""
    try:
        packaged = mime.parse(body, content_type)
    except mime.MimeError as exc:
        raise EbmsError("EBMS:0007", str(exc)) from exc
    try:
        root = parse_soap(packaged.soap, limits.max_message_bytes)
    except XmlRefused as exc:
        raise invalid_header(f"SOAP part refused: {exc.message}") from exc
    if root.tag != q(ns.S12, "Envelope"):
        raise invalid_header("not a SOAP 1.2 envelope")
    messaging = root.find(f"{{{ns.S12}}}Header/{{{ns.EB}}}Messaging")
    if messaging is None:
        raise invalid_header("no eb:Messaging header")
    ums = messaging.findall(q(ns.EB, "UserMessage"))
    if len(ums) != 1:
        raise invalid_header(f"expected one eb:UserMessage, found {len(ums)}")
    um = ums[0]
    message_id = eb(um, "MessageInfo/MessageId")
    if not message_id:
        raise invalid_header("eb:MessageId missing")
    try:
        timestamp = parse_timestamp(eb(um, "MessageInfo/Timestamp"))
    except ValueError as exc:
        raise invalid_header("eb:Timestamp missing or invalid") from exc
    from_party = eb(um, "PartyInfo/From/PartyId")
    to_party = eb(um, "PartyInfo/To/PartyId")
    if not from_party or not to_party:
        raise invalid_header("eb:PartyInfo incomplete")
    security = root.find(f"{{{ns.S12}}}Header/{{{ns.WSSE}}}Security")
    if security is None:
        raise EbmsError("EBMS:0103", "message has no wsse:Security header")
    try:
        sig, cert = find_signature(security)
    except SignatureError as exc:
        raise failed_authentication(str(exc)) from exc
    attachments = {cid: part.body for cid, part in packaged.attachments.items()}
    return Opened(root, um, message_id, attachments, cert, sig, from_party, to_party, timestamp)


def verify_message(opened: Opened, limits: As4Limits) -> None:
    """Stage 3, once the signer is trusted: the signature and what it must cover, bounded by
    ``limits.signature`` (CPU only)."""
    root, um = opened.root, opened.user_message
    try:
        ids = index_ids(root)
        verified = verify(opened.signature_element, opened.signer, ids, limits.signature)
    except SignatureError as exc:
        raise failed_authentication(str(exc)) from exc
    skew = timedelta(seconds=limits.clock_skew_seconds)
    if opened.timestamp - datetime.now(UTC) > skew:
        raise EbmsError("EBMS:0003", "eb:Timestamp is in the future beyond the allowed clock skew")
    messaging = root.find(f"{{{ns.S12}}}Header/{{{ns.EB}}}Messaging")
    body_el = root.find(q(ns.S12, "Body"))
    needed = {
        messaging.get(ns.WSU_ID) if messaging is not None else None,
        body_el.get(ns.WSU_ID) if body_el is not None else None,
    }
    if None in needed or not needed <= verified.covered_ids:
        raise failed_authentication("signature does not cover eb:Messaging and soap:Body")
    hrefs = [p.get("href", "") for p in um.iterfind(f"{{{ns.EB}}}PayloadInfo/{{{ns.EB}}}PartInfo")]
    if not hrefs:
        raise invalid_header("no eb:PayloadInfo/PartInfo")
    for href in hrefs:
        if not href.startswith("cid:"):
            raise EbmsError("EBMS:0011", f"payload reference {href!r} is not a MIME attachment")
        if href[4:] not in opened.attachments:
            raise EbmsError("EBMS:0011", f"payload {href} is not in the message")
        if href[4:] not in verified.attachment_digests:
            raise failed_authentication(f"signature does not cover payload {href}")
    opened.verified = verified


def decrypt_payload(opened: Opened, private_key: Any, limits: As4Limits) -> bytes:
    """Stage 4: decrypt the attachments, check their digests, decompress the payload (capped)."""
    security = opened.root.find(f"{{{ns.S12}}}Header/{{{ns.WSSE}}}Security")
    assert security is not None
    try:
        plain = decrypt_attachments(security, private_key, opened.attachments)
    except DecryptionError as exc:
        raise failed_decryption() from exc
    for cid, expected in opened.signature.attachment_digests.items():
        content = plain.get(cid, opened.attachments.get(cid))
        if digest_b64(content or b"") != expected:
            raise failed_authentication(f"attachment digest mismatch for cid:{cid}")
    first = next(
        p.get("href", "")[4:]
        for p in opened.user_message.iterfind(f"{{{ns.EB}}}PayloadInfo/{{{ns.EB}}}PartInfo")
    )
    if first not in plain:
        raise EbmsError("EBMS:0103", "payload is not encrypted")
    compression = opened.user_message.find(
        f"{{{ns.EB}}}PayloadInfo/{{{ns.EB}}}PartInfo/{{{ns.EB}}}PartProperties/{{{ns.EB}}}Property[@name='CompressionType']"
    )
    data = plain[first]
    if compression is not None and (compression.text or "").strip() == "application/gzip":
        try:
            data = gunzip_capped(data, limits.max_decompressed_bytes)
        except DecompressionError as exc:
            raise EbmsError("EBMS:0303", str(exc)) from exc
    return data
